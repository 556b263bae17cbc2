"""The estimators on dask arrays on a ``dask.distributed`` cluster.

``fit`` and ``partial_fit`` of a dask array run here (``BaseGD`` sends them), on the current
``distributed.Client``. The design is xgboost's and LightGBM's dask interfaces':

- The data moves once. X, y and the sample weights are persisted, and each worker gets one task,
  pinned to it, that builds a :class:`Shard` of the row chunks it holds: each chunk's ``X`` (as it
  lies when it is C-contiguous and float32/float64), its targets ``Y`` and weights ``sw``, as the
  in-process fit would build them. The shards stay on their workers; nothing of X reaches the
  client.
- An epoch sends only parameters out and sums back. Full batch: one task per worker, one
  compiled call per chunk on the worker's threads (``parts_gradient``), returning each chunk's loss
  and gradient sum;
  the client adds them in global chunk order and takes the step (``full_batch_step``), so the model
  is, bit for bit, the in-process fit with the chunks as its parts (``fit(..., row_parts=chunks)``).
  Mini-batch and SGD: local SGD with workers in place of threads (the ``local_sgd`` backend's
  algorithm): each worker trains its own copy from the current parameters over ``sync_rows`` of its
  rows with the estimator's backend, then the client averages the copies, weighted by rows, in
  worker order.
- The driver (:func:`fastgd._driver.train`) runs on the client as in-process: schedule, stopping
  rules, callbacks, progress bar, ``loss_history_``. :class:`DaskEpochs` is its model.

Faults: every task may run elsewhere if its worker is gone (``allow_other_workers``), and a shard
lost with its worker is rebuilt by the scheduler from its chunks, recomputed from their source
when they are lost too, so a fit that loses a worker finishes with the same model; when the chunks
cannot be recomputed (data scattered from the client), the fit raises naming the lost workers.

Inside a worker, numba runs on the worker's threads, and one process-wide lock keeps two fits (or a
fit and a prediction) from running kernels at once: numba's default threading layer aborts on
concurrent calls into its parallel kernels.
"""

import threading

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.class_weight import compute_class_weight

from ._driver import Epochs, OptimizerState
from ._kernels import optim
from ._kernels.data import Data

_KERNELS = threading.Lock()

#: Rows each worker trains on between two averages of the copies (mini-batch and SGD), when the
#: estimator's ``sync_rows`` is None: an average costs a round trip through the scheduler (about
#: 25 ms on a LocalCluster here, a no-op task 15 ms), and this many rows of mini-batch SGD take a
#: worker about 0.4 s. (At 2**18 a 16,000,000-row local-SGD epoch spent 0.85 s of 4 s in rounds.)
SYNC_ROWS = 1 << 20


# --- on the client ------------------------------------------------------------------------------

def _client():
    try:
        from distributed import default_client
    except ImportError as err:
        raise ImportError("fitting a dask array needs dask.distributed: pip install "
                          "'fastgd[dask]'.") from err
    try:
        return default_client()
    except ValueError as err:
        raise ValueError("fitting a dask array needs a dask.distributed Client: start one, e.g. "
                         "distributed.Client(distributed.LocalCluster()), or "
                         "Client('tcp://scheduler:8786') for a running cluster.") from err


def _dask_input(X, y, sample_weight, multi_output):
    """X, y and the weights as row-chunked dask arrays with X's row chunks."""
    import dask.array as da

    X = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got a dask array of shape "
                         f"{X.shape}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has chunks of unknown length: from a dask DataFrame use "
                         "df.to_dask_array(lengths=True).")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    rows = X.chunks[0]
    out = [X]
    for name, v in (("y", y), ("sample_weight", sample_weight)):
        if v is None:
            out.append(None)
            continue
        v = _as_array(v, name) if hasattr(v, "__dask_graph__") else np.asarray(v)
        if v.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {v.shape[0]} rows, X has {X.shape[0]}.")
        if isinstance(v, np.ndarray):
            v = da.from_array(v, chunks=(rows,) + tuple((s,) for s in v.shape[1:]))
        ndim_ok = v.ndim == 1 or (name == "y" and multi_output and v.ndim == 2)
        if not ndim_ok:
            raise ValueError(f"{name} must be 1-D, got shape {v.shape}.")
        if v.chunks[0] != rows:
            v = v.rechunk({0: rows} if v.ndim == 1 else {0: rows, 1: -1})
        out.append(v)
    return out


def _as_array(v, name):
    if hasattr(v, "to_dask_array"):  # a dask DataFrame or Series
        v = v.to_dask_array(lengths=True)
    if not hasattr(v, "chunks"):
        raise TypeError(f"{name} is a {type(v).__name__}; give a dask array or DataFrame.")
    return v


class Placement:
    """Persisted X, y, weights, and which worker takes which row chunks: ``groups`` is a list of
    ``(worker, chunk indices)`` (see :func:`_groups`)."""

    def __init__(self, client, X, y, sw):
        from distributed import wait

        self.client = client
        self.has_sw = sw is not None
        # held here for the whole fit: the chunks stay in the workers' memory while it runs
        self.arrays = client.persist([X, y] + ([sw] if self.has_sw else []))
        self.rows = [int(c) for c in X.chunks[0]]
        self.futures = [_flat(a) for a in self.arrays] + ([] if self.has_sw else [None])
        wait([f for futures in self.futures if futures for f in futures])
        self.groups = _groups(self.rows, client.who_has(self.futures[0]), self.futures[0],
                              sorted(client.scheduler_info()["workers"]))

    def submit(self, fn, *args, worker):
        """``fn`` as one task on ``worker``, or on any worker if that one is gone."""
        workers = None if worker == "any" else [worker]
        return self.client.submit(fn, *args, workers=workers, allow_other_workers=True,
                                  pure=False)

    def chunks(self, g):
        """Group ``g``'s chunks: the futures of their X, y and weights (None without), and their
        indices."""
        X, y, sw = self.futures
        indices = self.groups[g][1]
        return ([X[i] for i in indices], [y[i] for i in indices],
                [sw[i] for i in indices] if self.has_sw else None, indices)

    def per_group(self, fn, *args, shards=None):
        """``fn(shards[g] or chunks(g), *args)`` as one task on each group's worker; the results in
        group order."""
        return self.gather([
            self.submit(fn, shards[g] if shards is not None else self.chunks(g), *args,
                        worker=worker) for g, (worker, _) in enumerate(self.groups)])

    def gather(self, futures):
        try:
            return self.client.gather(futures, direct=True)
        except Exception as err:
            lost = {w for w, _ in self.groups} - set(self.client.scheduler_info()["workers"])
            if lost:
                raise RuntimeError(
                    f"the dask worker(s) {sorted(lost)} holding row chunks of this fit were lost "
                    f"and their chunks could not be recomputed ({type(err).__name__}: {err}). "
                    "Build X from a source that dask can recompute (for example "
                    "dask.array.from_array or from_zarr) rather than from data sent with "
                    "client.scatter, or send the data again and fit again.") from err
            raise


def _groups(rows, who_has, futures, workers):
    """Split the chunks into one run of consecutive chunks per worker, balanced by rows, and give
    each run to the worker that holds most of its rows: ``[(worker, chunk indices)]`` in chunk
    order. The runs depend only on the chunking and the number of workers, so local SGD, which
    trains one copy per run, gives the same model wherever dask placed the chunks; the placement
    decides only which chunks move (once, worker to worker) when the shards are built."""
    n_groups = max(1, min(len(workers), len(rows)))
    bounds = np.cumsum([0] + rows)
    runs = [[] for _ in range(n_groups)]
    for i in range(len(rows)):  # a chunk goes to the run its middle row falls in
        middle = (bounds[i] + bounds[i + 1]) / 2
        runs[min(n_groups - 1, int(middle * n_groups / bounds[-1]))].append(i)
    runs = [run for run in runs if run]
    free, groups = list(workers), []
    for run in runs:
        held = {w: sum(rows[i] for i in run if w in who_has.get(futures[i].key, ())) for w in free}
        worker = max(free, key=lambda w: held[w]) if free else "any"
        if free:
            free.remove(worker)
        groups.append((worker, run))
    return groups


def _flat(array):
    from distributed import futures_of

    by_key = {f.key: f for f in futures_of(array)}
    keys = array.__dask_keys__()
    while isinstance(keys[0], list):  # rows of (one) column block
        keys = [k[0] for k in keys]
    return [by_key[k] for k in keys]


def _survey_all(placement, classifier):
    """Rows, labels and weight totals of every chunk, from one pass on the workers."""
    stats = [s for group in placement.per_group(_survey, classifier) for s in group]
    stats.sort(key=lambda s: s["chunk"])
    return stats


def _setup(est, X, y, sample_weight, classes=None, first_call=True, dtype=None,
           holdout=False):
    """Validate, place the data and build the shards (``dtype``: X's, else float32 or float64 as
    it comes; ``holdout``: early stopping's validation rows); returns ``(placement, shards, n, k,
    d, dtype, loss)``."""
    client = _client()
    classifier = isinstance(est, ClassifierMixin)
    multi_output = est._y_options().get("multi_output", False)
    if y is None:
        raise ValueError("y is required; it is None.")
    X, y, sw = _dask_input(X, y, sample_weight, multi_output)
    if dtype is not None and X.dtype != dtype:
        X = X.astype(dtype)
    n, d = (int(s) for s in X.shape)
    if n == 0 or d == 0:
        raise ValueError(f"X has shape {X.shape}: a fit needs at least one row (sample) and one "
                         "column (feature).")
    if first_call:
        est.n_features_in_ = d
    elif d != est.n_features_in_:
        raise ValueError(f"X has {d} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input.")
    placement = Placement(client, X, y, sw)
    if first_call:  # "auto" by the rows that each worker trains on
        est._choose_backend(-(-n // len(placement.groups)))
    stats = _survey_all(placement, classifier)
    if not all(s["finite"] for s in stats):
        bad = [s["chunk"] for s in stats if not s["finite"]]
        raise ValueError(f"Input contains NaN or infinity: X, y or sample_weight in the row chunks "
                         f"{bad}. Remove or impute those rows first.")
    if any(s["negative"] for s in stats):
        raise ValueError("Negative values in data passed to sample_weight.")
    class_per = _classes(est, stats, classes, first_call) if classifier else None
    k = len(est.classes_) if classifier and len(est.classes_) > 2 else (
        1 if classifier else stats[0]["outputs"])
    dtype = X.dtype
    weighted = placement.has_sw or class_per is not None
    factor = None
    if weighted:
        total = 0.0
        for s in stats:  # in chunk order
            total += float(s["weight_sum"] if class_per is None
                           else np.dot(s["class_weight_sums"], class_per))
        if not total > 0:
            raise ValueError("sample_weight (times class_weight) sums to zero: give some rows a "
                             "positive weight.")
        factor = n / total
    validation = (est.validation_fraction, est.random_state) if holdout else None
    # futures, not results: each shard stays on its worker
    shards = [placement.submit(_build_shard, placement.chunks(g), est, dtype, class_per, factor,
                               validation, worker=worker)
              for g, (worker, _) in enumerate(placement.groups)]
    return placement, shards, n, k, d, dtype, est._loss(k)


def _classes(est, stats, classes, first_call):
    """Check the labels of every chunk (setting ``classes_`` on a first call); return the weight
    of each class (None without ``class_weight``)."""
    labels = np.unique(np.concatenate([s["labels"] for s in stats]))
    check_classification_targets(labels)
    if first_call:
        est.classes_ = labels if classes is None else np.unique(classes)
        if len(est.classes_) < 2:
            raise ValueError(f"{type(est).__name__} needs at least 2 classes in y, but it holds "
                             f"only one class: {est.classes_[0]!r}.")
    unknown = np.setdiff1d(labels, est.classes_)
    if len(unknown):
        raise ValueError(f"y holds labels not in classes: {unknown!r}.")
    if est.class_weight is None:
        return None
    counts = np.zeros(len(est.classes_))
    for s in stats:
        counts[np.searchsorted(est.classes_, s["labels"])] += s["counts"]
    # a y of each class's count reproduces compute_class_weight's "balanced" on all rows
    y_counts = np.repeat(est.classes_, counts.astype(np.int64))
    return compute_class_weight(est.class_weight, classes=est.classes_, y=y_counts)


def fit(est, X, y, sample_weight, init):
    """``est.fit`` on dask arrays (see the module's docstring)."""
    model, P, rng, validation, history = _prepare(est, X, y, sample_weight, init)
    _train(est, model, P, rng, validation, history, est.epochs)


def epochs_for(est, X, y, sample_weight=None):
    """The :class:`DaskEpochs` that ``est.fit(X, y)`` would train, set up as ``fit`` sets it up
    but not run (``BaseGD._epochs_for`` on a cluster): what the benchmark suite times."""
    return _prepare(est, X, y, sample_weight, {})[0]


def _prepare(est, X, y, sample_weight, init):
    from sklearn.utils import check_random_state

    placement, shards, n, k, d, dtype, loss = _setup(est, X, y, sample_weight,
                                                     holdout=est.early_stopping)
    est._rng = rng = check_random_state(est.random_state)
    warm = est.warm_start and hasattr(est, "_state") and est._same_shape(k, d)
    P = est._initial_params(dtype, k, d, warm, **init)
    fresh_state = optim.allocate_state(est._optimizer, P.size, dtype)
    if not (warm and est._state.S.shape == fresh_state.shape
            and est._state.S.dtype == fresh_state.dtype):
        est._state = OptimizerState(fresh_state)
    _check_local_sgd(est, n)
    model = DaskEpochs(est, placement, shards, P, loss, k, d, dtype)
    if not warm:
        _set_learning_rate(est, model, loss)
    history = list(est.loss_history_) if warm else []
    # the driver hands this to validation_loss; the held-out rows themselves are in the shards
    validation = ("held-out rows",) if est.early_stopping else None
    return model, P, rng, validation, history


def partial_fit(est, X, y, classes, sample_weight):
    """``est.partial_fit`` on dask arrays: one epoch over their chunks."""
    from sklearn.utils import check_random_state

    first_call = not hasattr(est, "_state")
    placement, shards, n, k, d, dtype, loss = _setup(
        est, X, y, sample_weight, classes, first_call,
        dtype=None if first_call else est._state.S.dtype)
    if first_call:
        est._rng = check_random_state(est.random_state)
        P = est._initial_params(dtype, k, d, warm=False)
        est._state = OptimizerState(optim.allocate_state(est._optimizer, P.size, dtype))
    else:
        if not est._same_shape(k, d):
            raise ValueError(f"y has {k} outputs or the parameters changed shape since the first "
                             "call to partial_fit; fit a new estimator.")
        P = est._initial_params(dtype, k, d, warm=True)
    _check_local_sgd(est, n)
    model = DaskEpochs(est, placement, shards, P, loss, k, d, dtype)
    if first_call:
        _set_learning_rate(est, model, loss)
    _train(est, model, P, est._rng, None, [] if first_call else list(est.loss_history_), 1)


def _check_local_sgd(est, n):
    """Refuse what local SGD across workers cannot do: each round trains copies of the weights
    and averages them, so an average over the updates has no single sequence of updates to follow."""
    if getattr(est, "average", False) and est.batch_size is not None and est.batch_size < n:
        raise ValueError("average is not available for mini-batch and SGD fits on a dask array, "
                         "which train by local SGD (copies of the weights, averaged); use "
                         "batch_size=None, or fit in-process.")


def _set_learning_rate(est, model, loss):
    def auto():
        # each chunk's statistics in chunk order, as an in-process fit with those row parts
        stats = sorted((s for group in model.placement.per_group(
            _curvature_stats, est, model.n, shards=model.shards) for s in group),
            key=lambda s: s[0])
        return est._learning_rate_from([s for _, s in stats], loss, model.n)

    est._set_learning_rate(auto)


def _train(est, model, P, rng, validation, history, epochs):
    from ._driver import train

    options = est._train_options(P, epochs, rng, validation, len(history))
    options["shuffle"] = False  # the workers shuffle their own rows (see DaskEpochs.run)
    result = train(model, model.n, **options)
    est._record(P, result, history, validation)


class DaskEpochs(Epochs):
    """The driver's model for a fit on a cluster: the parameters and optimizer state live here, the
    rows in the workers' shards (see the module's docstring)."""

    def __init__(self, est, placement, shards, P, loss, k, d, dtype):
        self.est, self.placement, self.shards = est, placement, shards
        self.n = sum(placement.rows)
        empty = (np.empty((0, d), dtype=dtype), np.empty((0, k), dtype=dtype),
                 np.empty(0, dtype=dtype))
        # the family's epochs on no rows: its model, optimizer state, penalty and steps
        self.local = est._epochs(*empty, P, loss)
        self.params, self.state, self.model = P, self.local.state, self.local.model
        self.sync_rows = est.sync_rows or SYNC_ROWS

    def new_order(self, n):
        return np.empty(0, dtype=np.int64)  # the rows are the workers'; see run

    def scores_finite(self):
        """Not checked on a cluster, where it would cost a round over every worker's rows: a last
        epoch whose updates make the scores overflow (but not the weights) goes unreported."""
        return True

    def penalty(self):
        return self.local.penalty()

    def run(self, order, batch, lr, schedule, schedule_hyper):
        seed = int(self.est._rng.randint(np.iinfo(np.int32).max))
        if batch >= self.n:
            groups = self.placement.per_group(_gradient, self.est, self.params, self.model.loss,
                                               shards=self.shards)
            parts = sorted((c, loss, G) for group in groups for c, loss, G in group)
            partial = np.array([loss for _, loss, _ in parts])
            G = np.stack([G for _, _, G in parts])
            return self.local.full_batch_step(partial, G, self.n, lr, schedule, schedule_hyper)
        most_rows = max(sum(self.placement.rows[i] for i in chunks)
                        for _, chunks in self.placement.groups)
        total = 0.0
        for r in range(-(-most_rows // self.sync_rows)):
            results = self.placement.per_group(
                _train_round, self.est, self.params, self.state.S, self.state.step,
                self.model.loss, r * self.sync_rows, self.sync_rows, batch,
                (lr, schedule, schedule_hyper), seed if self.est.shuffle else None, shards=self.shards)
            done = [(P_w, S_w, rows, loss, steps) for P_w, S_w, rows, loss, steps in results
                    if rows > 0]
            rows = sum(rows for _, _, rows, _, _ in done)
            # weighted by rows, added in worker order: the same average for the same chunking
            P_avg = sum(P_w * (rows_w / rows) for P_w, _, rows_w, _, _ in done)
            self.params[...] = P_avg
            if self.state.S.size:
                self.state.S[...] = sum(S_w * (rows_w / rows) for _, S_w, rows_w, _, _ in done)
            total += sum(loss for _, _, _, loss, _ in done)
            self.state.step += sum(steps for _, _, _, _, steps in done)
        return total

    def validation_loss(self, held_out):
        groups = self.placement.per_group(_validation_loss, self.est, self.params,
                                           self.model.loss, shards=self.shards)
        losses, rows = 0.0, 0
        for group in groups:
            for loss, m in group:
                losses += loss
                rows += m
        if rows == 0:
            raise ValueError(f"early_stopping held out no rows of the {self.n}: raise "
                             "validation_fraction or give more rows.")
        return losses / rows


# --- on the workers -----------------------------------------------------------------------------

class Shard:
    """A worker's row chunks as the kernels take them: ``train`` and ``validation`` are lists of
    ``(chunk index, Data)``."""

    def __init__(self, train, validation):
        self.train, self.validation = train, validation

    def parts(self, which="train"):
        return [data for _, data in getattr(self, which)]


def _locked(fn):
    """``fn`` run under the worker's kernel lock on the worker's threads."""

    def run(*args, **kwargs):
        import numba

        with _KERNELS:
            numba.set_num_threads(_worker_threads())
            return fn(*args, **kwargs)

    run.__name__, run.__qualname__ = fn.__name__, fn.__qualname__  # pickled by reference
    return run


def _worker_threads():
    import numba

    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError):
        threads = 1
    return max(1, min(threads, numba.config.NUMBA_NUM_THREADS))


def _survey(chunks, classifier):
    """Per chunk: rows, finiteness, labels and counts (classifiers), weight sums."""
    X_chunks, y_chunks, sw_chunks, indices = chunks
    out = []
    for j, (X, y) in enumerate(zip(X_chunks, y_chunks)):
        sw = None if sw_chunks is None else np.asarray(sw_chunks[j], dtype=np.float64)
        finite = bool(np.isfinite(X).all()) and (sw is None or bool(np.isfinite(sw).all()))
        s = {"chunk": indices[j], "rows": len(X), "negative": sw is not None and bool((sw < 0).any()),
             "weight_sum": float(len(X) if sw is None else sw.sum())}
        if classifier:
            labels, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
            s.update(labels=labels, counts=counts,
                     class_weight_sums=counts.astype(np.float64) if sw is None
                     else np.bincount(inverse.ravel(), weights=sw, minlength=len(labels)))
        else:
            finite = finite and bool(np.isfinite(np.asarray(y, dtype=np.float64)).all())
            s["outputs"] = 1 if np.ndim(y) == 1 else np.shape(y)[1]
        s["finite"] = finite
        out.append(s)
    return out


def _build_shard(chunks, est, dtype, class_per, factor, validation):
    """The :class:`Shard` of a worker's chunks: each chunk's rows, targets and weights as the
    in-process fit builds them (``_encode``, ``_sample_weight``), and with ``validation =
    (fraction, random_state)`` its held-out rows (a split of each chunk, seeded by its index)."""
    X_chunks, y_chunks, sw_chunks, indices = chunks
    train, held_out = [], []
    for j, (X, y) in enumerate(zip(X_chunks, y_chunks)):
        X = np.ascontiguousarray(X, dtype=dtype)
        y = np.asarray(y)
        Y = est._encode(y, dtype)
        weighted = sw_chunks is not None or class_per is not None
        # rescaled in float64 before the cast, as in-process (BaseGD._sample_weight)
        sw = np.ones(len(X)) if sw_chunks is None else np.asarray(sw_chunks[j], dtype=np.float64)
        if class_per is not None:
            sw = sw * class_per[np.searchsorted(est.classes_, y)]
        if weighted:
            sw = sw * factor
        sw = sw.astype(dtype, copy=False)
        if validation is not None:
            fraction, seed = validation
            rng = np.random.default_rng([_seed(seed), indices[j]])
            held = rng.random(len(X)) < fraction
            held_out.append((indices[j], Data(X[held], Y[held], sw[held])))
            X, Y, sw = X[~held], Y[~held], sw[~held]
        train.append((indices[j], Data(X, Y, sw)))
    return Shard(train, held_out)


def _seed(random_state):
    return random_state if isinstance(random_state, int) else 0


@_locked
def _curvature_stats(shard, est, n):
    return [(c, est._curvature_stats(data.X, data.sw, n)) for c, data in shard.train
            if len(data.sw)]


@_locked
def _gradient(shard, est, P, loss):
    """Each training chunk's ``(index, loss sum, gradient sum)`` at ``P``: one compiled call a
    chunk, on the worker's threads."""
    epochs = est._epochs(*_no_rows(shard), P, loss)
    partial, G = epochs.kernels.parts_gradient(shard.parts(), epochs.model, _worker_threads())
    return [(c, partial[t], G[t]) for t, (c, _) in enumerate(shard.train)]


@_locked
def _validation_loss(shard, est, P, loss):
    if not shard.validation:
        return []
    epochs = est._epochs(*_no_rows(shard), P, loss)
    partial, _ = epochs.kernels.parts_gradient(shard.parts("validation"), epochs.model,
                                               _worker_threads())
    return [(partial[t], len(data.sw)) for t, (_, data) in enumerate(shard.validation)]


def _no_rows(shard):
    data = shard.train[0][1]
    return data.X[:0], data.Y[:0], data.sw[:0]


@_locked
def _train_round(shard, est, P, S, step, loss, start, rows, batch, rate, seed):
    """Train a copy of ``P``, ``S`` over rows ``start:start + rows`` of this worker's epoch order
    (its chunks in turn, each shuffled by ``(seed, chunk index)``); return the copy, the rows
    trained on, their loss sum and the steps taken. Batches do not straddle chunks."""
    P, S = P.copy(), S.copy()
    est._state = OptimizerState(S, step)
    lr, schedule, schedule_hyper = rate
    total, done, offset = 0.0, 0, 0
    for c, data in shard.train:
        m = len(data.sw)
        lo, hi = max(start - offset, 0), min(start + rows - offset, m)
        offset += m
        if lo >= hi:
            continue
        order = np.arange(m, dtype=np.int64)
        if seed is not None:
            np.random.default_rng([seed, c]).shuffle(order)
        epochs = est._epochs(data.X, data.Y, data.sw, P, loss)
        total += epochs.run(order[lo:hi], min(batch, hi - lo), lr, schedule, schedule_hyper)
        done += hi - lo
    return P, S, done, total, est._state.step - step


def map_rows(est, method, X):
    """``method(est, block)`` over the row chunks of the dask array ``X``: a lazy dask array."""
    X = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got a dask array of shape "
                         f"{X.shape}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    # the output's type and width, from one row of zeros
    probe = method(est, np.zeros((1, X.shape[1]), dtype=X.dtype if X.dtype in (
        np.float32, np.float64) else np.float64))
    run = _Bound(est, method)
    if probe.ndim == 1:
        return X.map_blocks(run, dtype=probe.dtype, drop_axis=1, meta=probe[:0])
    return X.map_blocks(run, dtype=probe.dtype, chunks=(X.chunks[0], (probe.shape[1],)),
                        meta=probe[:0])


class _Bound:
    """``method`` of ``est``, picklable into a task graph."""

    def __init__(self, est, method):
        self.est, self.method = est, method

    def __call__(self, block):
        import numba

        with _KERNELS:
            numba.set_num_threads(_worker_threads())
            return self.method(self.est, block)
