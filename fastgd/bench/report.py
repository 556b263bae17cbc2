"""Render the suite's pytest-benchmark JSON as a markdown report with figures.

Every number is a median of pytest-benchmark's rounds. A speedup is the ratio of two medians timed
in the same run; achieved GB/s is the bytes of X (of a CSR: its values, column indices and row
pointers) over the median, set against the machine's memory bandwidth as measured by the fastest
single read of X (BLAS ``X @ w`` on 512 MB).
"""

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from matplotlib.figure import Figure

from . import coldstart, distributed, memory, phases, textlike
from .cases import (COMPILED, PROBLEMS, REFERENCE, SWEEPS, TEXT_SGD_EPOCHS, TEXT_SWEEPS,
                    TWO_PRODUCTS, bytes_touched, design)
from .machine import BUSY_CORES
from .targets import LOSS_TOLERANCE, TARGETS

#: Every variant, in the order that tables and figures list them.
VARIANTS = (REFERENCE, *COMPILED, "X @ w", TWO_PRODUCTS, "scikit-learn", "torch")
LABELS = {"numpy": "NumPy", "scikit-learn": "scikit-learn", "torch": "PyTorch",
          TWO_PRODUCTS: "SciPy products"}
#: The variants that compiled backends are compared with, in the order of their columns.
PEERS = (REFERENCE, "scikit-learn", "torch", TWO_PRODUCTS)
#: How a benchmark skipped for a peer that could not be imported or run begins its reason.
MISSING_PEER = "peer missing:"
AXIS_LABELS = {"n": "rows", "d": "features", "batch": "batch size", "model": "loss",
               "optimizer": "optimizer", "epochs": "epochs"}
NUMERIC_AXES = ("n", "d", "batch")
#: Column order of every timing table; other tables keep the order of their rows' keys.
COLUMNS = [*AXIS_LABELS.values(), "benchmark", "dtype", "fastest fastgd", "auto picks",
           *(LABELS.get(v, v) for v in VARIANTS),
           *(f"{v} vs {LABELS[other]}" for other in PEERS for v in (*COMPILED, "fastest")),
           *(f"{LABELS.get(v, v)} training loss" for v in VARIANTS), "fastgd GB/s"]
DESIGN_NOTE = (
    "The full cross product of the issue's axes (6 batch sizes x 4 row counts x 4 feature counts x "
    "2 dtypes x 5 losses x 7 optimizers) is over 6,000 cases, far beyond 20 minutes on 2 cores. "
    "The design is sampled instead: each sweep below varies one axis around a central point, in "
    "float64 and float32. An *epoch* is the epoch call that the driver makes (recorded from a real "
    "`fit`; mini-batch epochs shuffle), a *fit* a whole `fit` of the public estimator (one epoch "
    "unless its sweep says otherwise), validation included, without shuffling, which is what "
    "scikit-learn's `SGDClassifier`/`SGDRegressor` (batch size 1 only) and a PyTorch loop are "
    "compared with; the training loss that a fit reaches is shown beside its time: its "
    "objective, the mean of its loss over the rows plus its penalty, computed from every "
    "variant's weights alike (fastgd's definitions, also for scikit-learn's fits; an MLP's is its "
    "log loss). A *serial* sweep pins BLAS (and numba) to one thread and times "
    "only the serial variants. The NumPy reference and the PyTorch loop, which run a Python loop "
    "over the batches, are left out where a call would take them more than a second.")


@dataclass
class Results:
    """What a run measured: the matrix's ``medians[case id, variant]`` in seconds, the
    ``disturbed`` keys (timed while other processes kept more than ``BUSY_CORES`` busy) and the
    training ``losses[case id, variant]`` of the fits; the ``bytes[case id]`` that a call reads; the
    read ``bandwidth[dtype]`` in GB/s; the ``memory[backend, batch size, dtype]`` that a fit adds,
    as a share of X; ``text_memory[backend, batch size, dtype, rows]``, what a fit on the
    text-like CSR adds, the CSR's bytes and the O(d) allowance (a dict as
    ``fastgd.bench.memory.text_fit_peak`` returns it); and ``startup[backend]``, the seconds of
    ``import fastgd`` plus the first fit in a fresh process, cache warm (the sum of the two
    medians), ``cold_fit[backend]`` the first fit's seconds with an empty cache, and
    ``sklearn_import`` the seconds of ``import sklearn`` in a fresh process; ``phases[fit label]``
    the ``extra_info`` of a whole fit split into phases (``fastgd.bench.phases``);
    ``auto[case id]`` the backend that ``backend="auto"`` picks in the case."""

    medians: dict = field(default_factory=dict)
    disturbed: set = field(default_factory=set)
    losses: dict = field(default_factory=dict)
    bytes: dict = field(default_factory=dict)
    bandwidth: dict = field(default_factory=dict)
    memory: dict = field(default_factory=dict)
    text_memory: dict = field(default_factory=dict)
    startup: dict = field(default_factory=dict)
    cold_fit: dict = field(default_factory=dict)
    sklearn_import: float | None = None
    phases: dict = field(default_factory=dict)
    auto: dict = field(default_factory=dict)
    distributed: list = field(default_factory=list)
    race: list = field(default_factory=list)


def load(raw):
    """Return the parsed pytest-benchmark JSON file ``raw`` and its :class:`Results`."""
    data = json.loads(Path(raw).read_text())
    results = Results()
    for bench in data["benchmarks"]:
        extra = bench["extra_info"]
        if "case" in extra:
            key = extra["case"], extra["variant"]
            results.medians[key] = bench["stats"]["median"]
            if extra.get("others_cores", 0) > BUSY_CORES:
                results.disturbed.add(key)
            # older runs recorded the log loss of the models with probabilities instead
            loss = extra.get("training_loss", extra.get("log_loss"))
            if loss is not None:
                results.losses[key] = loss
            if "bytes" in extra:
                results.bytes[extra["case"]] = extra["bytes"]
            if "auto_backend" in extra:
                results.auto[extra["case"]] = extra["auto_backend"]
        elif bench["group"] == "memory bandwidth":
            results.bandwidth[extra["dtype"]] = extra["gbps"]
        elif bench["group"] == memory.GROUP:
            results.memory[extra["variant"], extra["batch"], extra["dtype"]] = extra["share_of_x"]
        elif bench["group"] == memory.TEXT_GROUP and extra.get("extra_bytes") is not None:
            results.text_memory[extra["variant"], extra["batch"], extra["dtype"], extra["rows"]] = {
                "extra": extra["extra_bytes"], "csr": extra["csr_bytes"],
                "allowance": extra["allowance_bytes"], "traced": extra["traced_bytes"],
                "threads": extra["threads"]}
        elif bench["group"] == "distributed epochs":
            results.distributed.append(extra)
        elif bench["group"] == "distributed time to loss":
            results.race.append(extra)
        elif bench["group"] == "first fit in a fresh process":
            results.startup[extra["variant"]] = extra["warm_import_s"] + extra["warm_first_fit_s"]
            results.cold_fit[extra["variant"]] = extra["cold_first_fit_s"]
        elif bench["group"] == "import scikit-learn in a fresh process":
            results.sklearn_import = extra["import_s"]
        elif bench["group"] == phases.GROUP:
            results.phases[extra["fit"]] = extra
    return data, results


def render(raw, out):
    """Write ``out/report.md`` and its figures in ``out/plots/`` from the JSON file ``raw``."""
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    data, results = load(raw)
    run = data.get("fastgd_run", {})
    measured = {case_id for case_id, _ in results.medians}
    lines = [
        "# fastgd benchmarks",
        "",
        f"`{run.get('command', 'pytest benchmarks')}`, started "
        f"{run.get('started', data['datetime'])}, took {_duration(run.get('seconds'))}; load "
        f"average {run.get('load_before', '?')} before, {run.get('load_after', '?')} after "
        "(other users of the machine disturb the timings, the multi-threaded backends most, since "
        "their threads wait for each other). Generated by `fastgd bench` from `benchmark.json` "
        "beside this file.",
        "",
        "## Machine",
        "",
        *_machine(data["machine_info"].get("fastgd", {}), results.bandwidth),
        "",
        *_incomplete(data),
        "## Headline",
        "",
        *_headline(results),
        "",
        "## Targets of issues 8, 13 and 16",
        "",
        *_targets(results),
        "",
        *_phases(results),
        "## Design",
        "",
        DESIGN_NOTE,
        "",
        *_design_table(),
    ]
    lines += _sweeps(SWEEPS, "##", measured, results, out)
    sparse = _sparse(results, measured, out)
    lines += ["", *sparse] if sparse else []
    distributed = _distributed(results)
    lines += ["", *distributed] if distributed else []
    lines += ["", *_cold_first_fits(data), *_startup(data), "", "## Reproduce", "",
              "`fastgd bench` (this report), `fastgd bench --quick` (a quick one in "
              "`results/quick/`); the performance regression check and its CI set-up are described "
              "in `benchmarks/README.md`."]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _incomplete(data):
    """What the run could not measure: the peers that could not be imported or run, and the
    benchmarks that failed, each with its reason, as a section; nothing for a complete run."""
    missing = data.get("missing_peers", [])
    failed = data.get("fastgd_run", {}).get("failed", [])
    if not missing and not failed:
        return []
    lines = ["## Incomplete run", "",
             "These benchmarks did not run; the rest of the report holds everything else.", "",
             "| benchmark | why |", "|---|---|"]
    lines += [f"| `{entry['test']}` | {entry['reason'].replace('|', '/')} |" for entry in missing]
    lines += [f"| `{test}` | failed: see `pytest.log` beside this report |" for test in failed]
    return [*lines, ""]


def _sweeps(sweeps, level, measured, results, out, prefix=""):
    """A section headed at ``level`` for each of ``sweeps`` that the run measured: its table and,
    on a numeric axis, its figure."""
    lines = []
    for sweep in sweeps:
        cases = [case for case in sweep.cases() if case.id in measured]
        if not cases:
            continue
        lines += ["", f"{level} {prefix}{sweep.name}", "", _centre(sweep), "",
                  *_table([_row(case, results, sweep.axis) for case in cases])]
        if sweep.axis in NUMERIC_AXES and len({_x(case, sweep.axis) for case in cases}) > 1:
            path = out / "plots" / f"{_slug(prefix + sweep.name)}.png"
            _figure(sweep, cases, results.medians, path)
            lines += ["", f"![{sweep.name}](plots/{path.name})"]
    return lines


def _sparse(results, measured, out):
    """The "Sparse input" section: issue 13's sweeps on the text-like CSR, the time of one more
    SGD epoch against scikit-learn, and the memory that a fit adds."""
    if not (results.text_memory
            or any(case.data != "dense" and case.id in measured for case in design())):
        return []
    problem = PROBLEMS["text"]
    options = ", ".join(f"{key}={value!r}" for key, value in problem.options.items())
    return [
        "## Sparse input",
        "",
        "Issue 13's problem: a text-like CSR from `fastgd/bench/textlike.py` (`text_like(n, d, "
        "dtype)`), what `HashingVectorizer` makes of documents: about "
        f"{textlike.STORED_PER_ROW} stored values per row (repeated tokens summed), feature "
        "frequencies following Zipf's law (the r-th most frequent about 1/r) scattered over the "
        "d hashed columns, signed, rows of unit L2 norm; float64 or float32 values, int32 "
        "indices, canonical CSR. Labels come from a planted sparse logistic model "
        f"({textlike.INFORMATIVE:,} nonzero weights among the {textlike.FREQUENT:,} most frequent "
        "features; balanced classes). Every variant trains log loss with plain SGD at the "
        f"constant step {problem.learning_rate} and {options} (scikit-learn's `SGDClassifier` "
        "with `penalty=\"l2\"`, `learning_rate=\"constant\"`, the same `eta0`, `alpha` and "
        "`fit_intercept`, `tol=None`, `shuffle=False`; the fits do not shuffle, the epochs do). "
        f"GB/s here is the CSR's bytes (values, indices and row pointers) read per second; "
        f"SciPy products is the time of `X @ w` and `X.T @ r` on the same CSR, the two products "
        "that a full-batch gradient needs.",
        "",
        *_per_epoch(results),
        "",
        *_text_memory(results),
        *_sweeps(TEXT_SWEEPS, "###", measured, results, out, prefix="text-like CSR: "),
    ]


def _distributed(results):
    """The "On a dask cluster" section: issue 14's epochs, their overhead, the scaling model and
    the time to a loss against dask-ml (see ``fastgd/bench/distributed.py``)."""
    if not (results.distributed or results.race):
        return []
    lines = [
        "## On a dask cluster",
        "",
        f"Issue 14: `GDClassifier` on {distributed.FEATURES}-feature float64 dask arrays persisted "
        f"on a `LocalCluster` of {distributed.WORKERS} worker processes x "
        f"{distributed.WORKER_THREADS} thread, in chunks of up to {distributed.CHUNK_ROWS:,} rows, "
        "beside the same epoch in-process on data of the same shape: `parallel` / `local_sgd` on "
        "2 threads and the serial `numba`. Medians of repeated epochs after a warm-up (never "
        "compilation). The split of a distributed epoch is from dask's task stream: compute is the "
        "slower worker's time in its task, transfer the data moved, the rest scheduling, messages "
        "and the client's step. Mini-batch epochs on the cluster are local SGD (each worker trains "
        "its own copy over `sync_rows` = 1,048,576 of its rows between averages).",
        "",
    ]
    rows = []
    for e in sorted(results.distributed, key=lambda e: (e["batch"] is not None, e["rows"])):
        rows.append({
            "rows": f"{e['rows']:,}", "batch": _batch_name(e["batch"]),
            "dask epoch": _time(e["dask_s"]), "compute": _time(e["compute_s"]),
            "transfer": _time(e["transfer_s"]), "rest": _time(e["rest_s"]),
            "in-process, 2 threads": f"{_time(e['threaded_s'])} ({e['threaded']})",
            "in-process numba": _time(e["numba_s"]),
            "dask / 2 threads": f"{e['dask_s'] / e['threaded_s']:.2f}x",
        })
    if rows:
        lines += _table(rows, ordered=False)
    full = [e for e in results.distributed if e["batch"] is None]
    if full:
        largest = max(full, key=lambda e: e["rows"])
        fixed = sorted(e["rest_s"] + e["transfer_s"] for e in full)[len(full) // 2]
        per_row = largest["compute_s"] / (largest["rows"] / distributed.WORKERS)
        local = largest["threaded_s"] / largest["rows"]
        lines += [
            "",
            f"Scaling model of a full-batch epoch: {fixed * 1e3:.0f} ms (a task per worker, its "
            f"messages, the client's step) + {per_row * 1e9:.1f} ns per row on each worker, "
            f"against {local * 1e9:.1f} ns per row in-process on 2 threads (both from the "
            f"{largest['rows']:,}-row epoch). On this machine the two workers share one memory "
            "bus, as the two threads do, so the cluster cannot beat the threads; the fixed part "
            "matters less as rows grow. On separate machines each worker reads its own memory: "
            f"W workers would take about {fixed * 1e3:.0f} ms + n / W x {per_row * 1e9:.1f} ns "
            "(less where one worker has the bus to itself).",
        ]
    if results.race:
        target = results.race[0]
        lines += [
            "",
            f"### Time to a training loss within {distributed.LOSS_TOLERANCE:g} of the optimum",
            "",
            f"{target['rows']:,} rows on the same cluster; optimum {target['optimum']:.6f} "
            "(scikit-learn's `LogisticRegression(penalty=None)`), target "
            f"{target['target']:.6f}. dask-ml's `LogisticRegression` (`C=1e12`, so no penalty) "
            "fits with `max_iter` doubling until one reaches the target, timed alone; fastgd fits "
            "once, stopped by a callback at the first epoch that reaches it (the callback's own "
            "loss computation not counted). A solver that had not "
            f"reached it after {target['budget_s']:.0f} s of fits shows as not reached.",
            "",
        ]
        race = []
        for e in results.race:
            race.append({"fit": e["racer"],
                         "time to target": "not reached" if e["seconds"] is None
                         else _time(e["seconds"]),
                         "iterations / epochs": str(e["iterations"]), "loss": f"{e['loss']:.6f}"})
        lines += _table(race, ordered=False)
    lines += ["", *_distributed_targets(results)]
    return lines


def _distributed_targets(results):
    """Issue 14's two targets, judged from this run."""
    rows = []
    largest = max((e for e in results.distributed if e["batch"] is None),
                  key=lambda e: e["rows"], default=None)
    if largest is not None:
        ratio = largest["dask_s"] / largest["threaded_s"]
        rows.append({"target": "distributed full-batch epoch at most 1.25x the in-process "
                               f"parallel one ({largest['rows']:,} rows)",
                     "measured": f"{ratio:.2f}x", "met": "yes" if ratio <= 1.25 else "no"})
    ours = [e["seconds"] for e in results.race
            if not e["racer"].startswith("dask-ml") and e["seconds"] is not None]
    peers = [e["seconds"] for e in results.race
             if e["racer"].startswith("dask-ml") and e["seconds"] is not None]
    if ours and any(e["racer"].startswith("dask-ml") for e in results.race):
        best_peer = min(peers) if peers else None
        speedup = best_peer / min(ours) if best_peer else None
        rows.append({
            "target": "time to the loss at least 5x faster than dask-ml's fastest solver",
            "measured": f"{speedup:.1f}x" if speedup else
            f"dask-ml did not reach it; fastgd {min(ours):.2f} s",
            "met": "yes" if speedup is None or speedup >= 5 else "no"})
    return ["### Targets of issue 14", "", *_table(rows, ordered=False)] if rows else []


def _batch_name(batch):
    return "full" if batch is None else str(batch)


def _per_epoch(results):
    """The time of one more SGD epoch, from the fits of 1 and ``TEXT_SGD_EPOCHS.epochs`` epochs."""
    more = TEXT_SGD_EPOCHS.epochs
    rows = []
    fits = dict.fromkeys(case for sweep in TEXT_SWEEPS for case in sweep.cases()
                         if case.kind == "fit" and case.epochs == 1)
    for once in fits:
        again = replace(once, epochs=more)
        per_epoch = {}
        for v in (*COMPILED, "scikit-learn"):
            times = [results.medians.get((case.id, v)) for case in (once, again)]
            if all(times):
                per_epoch[v] = (times[1] - times[0]) / (more - 1)
        if "scikit-learn" not in per_epoch or len(per_epoch) < 2:
            continue
        fastest = min((v for v in COMPILED if v in per_epoch), key=per_epoch.get)
        disturbed = {v for v in per_epoch
                     if any((case.id, v) in results.disturbed for case in (once, again))}
        row = {"rows": f"{once.n:,}", "features": f"{once.d:,}", "dtype": once.dtype}
        row |= {LABELS.get(v, v): _time(t) + ("*" if v in disturbed else "")
                for v, t in per_epoch.items()}
        row |= {f"{v} vs scikit-learn": _ratio(per_epoch["scikit-learn"], per_epoch[v])
                for v in COMPILED if v in per_epoch}
        for v in per_epoch:
            losses = [results.losses.get((case.id, v)) for case in (once, again)]
            if all(loss is not None for loss in losses):
                row[f"{LABELS.get(v, v)} training loss (1, {more} epochs)"] = (
                    f"{losses[0]:.4f}, {losses[1]:.4f}")
        csr = results.bytes.get(once.id)
        if csr:
            row["fastgd CSR GB/s"] = f"{csr / per_epoch[fastest] / 1e9:.2f} ({fastest})"
        rows.append(row)
    if not rows:
        return []
    return [f"### One more SGD epoch against scikit-learn (fits of 1 and {more} epochs)", "",
            f"Each variant's {more}-epoch fit less its one-epoch fit, per extra epoch: the time of "
            "an epoch without what a fit spends once (validation, labels, set-up). The training "
            "loss that each fit reaches (log loss plus the L2 penalty) is beside it; a faster "
            f"variant must reach one at most {LOSS_TOLERANCE:.0%} higher (see the targets). A time "
            "marked * comes from a fit timed while other processes kept the machine busy.", "",
            *_table(rows, ordered=False)]


def _text_memory(results):
    rows = []
    for fit in memory.TEXT_FITS:
        m = results.text_memory.get(fit)
        if m is None:
            continue
        backend, batch_size, dtype, n = fit
        rows.append({
            "backend": backend, "batch size": _value(batch_size), "dtype": dtype,
            "CSR rows": f"{n:,}", "threads": str(m["threads"]), "CSR": _megabytes(m["csr"]),
            "peak added (resident)": _megabytes(m["extra"]),
            "O(d) allowance": _megabytes(m["allowance"]),
            "beyond it, share of the CSR": f"{max(0, m['extra'] - m['allowance']) / m['csr']:.0%}",
            "peak traced (tracemalloc)": _megabytes(m["traced"])})
    if not rows:
        return []
    return ["### Memory a fit adds", "",
            "A default `GDClassifier` (learning rate \"auto\", two epochs) with the backend and "
            "batch size shown, fitted in a fresh process on the text-like CSR of "
            f"{memory.TEXT_FEATURES:,} features (`fastgd/bench/memory.py`): the growth of the peak "
            "resident memory over the process's size with the CSR in it (the memory that drawing "
            "the CSR freed handed back to the system, the peak set back); beside it the peak of "
            "the allocations that Python and NumPy report to `tracemalloc` in a second fit. The "
            f"target allows {memory.ALLOWANCE_ARRAYS} arrays of d + 1 values per thread on top of "
            "20% of the CSR.", "", *_table(rows, ordered=False)]


def _megabytes(n_bytes):
    return f"{n_bytes / 1e6:.1f} MB"


# --- tables -----------------------------------------------------------------------------------

def _row(case, results, axis=None):
    """One table row for ``case``: the timings, each compiled backend's speedup over NumPy and the
    peers, and the fastest one's achieved bandwidth. Without ``axis`` (the headline), the compiled
    backends are reduced to the fastest."""
    t = {v: results.medians.get((case.id, v)) for v in VARIANTS}
    shown = {v: _time(t[v]) + ("*" if (case.id, v) in results.disturbed else "")
             for v in VARIANTS if t[v]}
    fastest = min((v for v in COMPILED if t[v]), key=t.get)
    if axis:
        row = {AXIS_LABELS[axis]: _value(getattr(case, axis)), "dtype": case.dtype}
        row |= {LABELS.get(v, v): shown[v] for v in shown}
        if case.id in results.auto:
            row["auto picks"] = results.auto[case.id]
        compared = [v for v in COMPILED if t[v]]
    else:
        row = {"benchmark": _label(case), "dtype": case.dtype,
               "fastest fastgd": f"{shown[fastest]} ({fastest})"}
        row |= {LABELS.get(v, v): shown[v] for v in shown if v not in COMPILED}
        compared = [fastest]
    for other in PEERS:
        row |= {f"{v if axis else 'fastest'} vs {LABELS[other]}": _ratio(t[other], t[v])
                for v in compared if t[other]}
    if axis:
        row |= {f"{LABELS.get(v, v)} training loss": f"{results.losses[case.id, v]:.4f}"
                for v in VARIANTS if (case.id, v) in results.losses}
    # recorded by the run; computing a sparse case's would draw its matrix
    n_bytes = results.bytes.get(case.id) or (bytes_touched(case) if case.data == "dense" else None)
    if n_bytes:
        gbps = n_bytes / t[fastest] / 1e9
        bandwidth = results.bandwidth.get(case.dtype)
        share = f" ({gbps / bandwidth:.0%})" if bandwidth else ""
        row["fastgd GB/s"] = f"{gbps:.2f}{share}" if case.data != "dense" else f"{gbps:.1f}{share}"
    return row


def _headline(results):
    rows = [_row(case, results) for sweep in (*SWEEPS, *TEXT_SWEEPS)
            for case in sweep.cases(sweep.headline)
            if any((case.id, v) in results.medians for v in COMPILED)]
    return [
        "The fastest compiled backend of each case against the NumPy reference and the peers "
        "(`a vs b`: how many times faster `a` is than `b`), and its achieved bandwidth: GB of X "
        "per second, in brackets the share of the machine's read bandwidth from memory (BLAS "
        "`X @ w` on 512 MB; an X that fits in cache can be read faster). "
        f"A time marked * was taken while other processes kept more than {BUSY_CORES} of a core "
        f"busy on average ({len(results.disturbed)} of {len(results.medians)} in this run).",
        "",
        *_table(rows),
    ]


def _targets(results):
    rows = []
    for target in TARGETS:
        measurements = target.measure(results)
        measured = [m for m in measurements if m.value is not None]
        if not measured:
            verdict = "not measured in this run"
        else:
            verdict = "met" if all(target.met(m) for m in measured) else "**not met**"
            if len(measured) < len(measurements):
                verdict += f" ({len(measured)} of {len(measurements)} measured)"
        rows.append({"target": target.text,
                     "bound": f"{'<=' if target.at_most else '>='} "
                              f"{_in_unit(target.bound, target.unit)}",
                     "measured": "; ".join(_measurement(target, m) for m in measured),
                     "result": verdict})
    return [
        "Each target of issue 8 (dense input), issue 13 (sparse input, on the text-like CSR "
        "of the \"Sparse input\" section) and issue 16 (whole fits, the default backend, round 1's "
        "misses; it replaced round 1's start-up and bandwidth targets), judged from this run's "
        "measurements: the sweeps below (a speedup is the ratio of two medians timed side by "
        "side), the whole fits' phases, the memory that a fit adds (`fastgd.bench.memory`, in a "
        "fresh process) and the start-up. A target at equal loss also "
        f"needs the faster variant's training loss at most {LOSS_TOLERANCE:.0%} above the "
        "slower one's (`loss`: how far above it is). A measurement in bold misses its target; one "
        "marked * was timed while other processes kept the machine busy (see the headline); a "
        "target that a run measured only in part (`--quick` leaves out the largest cases and the "
        "start-up) is judged on that part.",
        "",
        *_table(rows),
    ]


def _measurement(target, measurement):
    shown = _in_unit(measurement.value, target.unit)
    excess = measurement.loss_excess
    if excess is not None:
        shown += ", loss not recorded" if math.isnan(excess) else f", loss {excess:+.1%}"
    if measurement.disturbed:
        shown += "\\*"  # escaped: it may stand next to the bold's closing asterisks
    if not target.met(measurement):
        shown = f"**{shown}**"
    return f"{measurement.label}: {shown}"


def _in_unit(value, unit):
    """``value`` as a ratio ("x"), a share ("%") or seconds ("s")."""
    if unit == "%":
        return f"{value:.0%}"
    if unit == "s":
        return _time(value)
    return f"{value:.2f}x"


def _table(rows, ordered=True):
    """Markdown table of dict rows; the columns are the union of their keys, in the order of
    ``COLUMNS`` when ``ordered``, else in the order of the rows' keys."""
    if not rows:
        return ["(no results)"]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if ordered:
        columns.sort(key=lambda c: COLUMNS.index(c) if c in COLUMNS else len(COLUMNS))
    return ["| " + " | ".join(columns) + " |",
            "|" + "|".join("---" for _ in columns) + "|",
            *("| " + " | ".join(row.get(c, "") for c in columns) + " |" for row in rows)]


def _machine(info, bandwidth):
    pools = "; ".join(
        " ".join(str(pool[key]) for key in ("internal_api", "version", "architecture") if pool[key])
        + f" ({pool['library']}), {pool['num_threads']} threads"
        for pool in info.get("threadpools", []))
    rows = [
        ("CPU", f"{info.get('cpu')}, {info.get('cores')} cores"),
        ("Memory", f"{info.get('memory_gib')} GiB"),
        ("Memory bandwidth (fastest BLAS `X @ w`, 2,000,000 x 32)",
         ", ".join(f"{gbps:.1f} GB/s {dtype}" for dtype, gbps in sorted(bandwidth.items()))),
        ("System", info.get("system")),
        ("Python, NumPy, numba, scikit-learn, PyTorch",
         ", ".join(str(info.get(key))
                   for key in ("python", "numpy", "numba", "scikit-learn", "torch"))),
        ("BLAS and OpenMP pools (threadpoolctl)", pools),
        ("Threads", f"numba {info.get('numba_threads')} ({info.get('threading_layer')} layer), "
                    "BLAS and PyTorch the same; the `numba` backend and scikit-learn are serial"),
    ]
    return ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in rows)]


def _design_table():
    quick = set(design(quick=True))
    rows = [{"sweep": sweep.name, "around": _label(sweep.center, skip=sweep.axis),
             "axis": AXIS_LABELS[sweep.axis],
             "values (full)": ", ".join(_value(v) for v in sweep.values),
             "values (--quick)": ", ".join(_value(v) for v in sweep.quick) or "-"}
            for sweep in (*SWEEPS, *TEXT_SWEEPS)]
    return [*_table(rows), "", f"{len(design())} cases in the full design, {len(quick)} in the "
            "quick one, each timed by every variant that applies."]


def _centre(sweep):
    return (f"Around {_label(sweep.center, skip=sweep.axis)}; medians per call."
            + (f" {sweep.note}" if sweep.note else ""))


def _phases(results):
    """The whole fits split into phases: a heading, a note and a table, or nothing."""
    if not results.phases:
        return []
    rows = []
    for label, extra in results.phases.items():
        split, product = extra["phases_s"], extra["x_at_w_s"]
        row = {"fit": label, "backend": extra["backend"], "whole fit": _time(split["fit"])}
        row |= {f"{phase} (phase)": _time(split[phase]) for phase in (*phases.PHASES, "other")}
        row["overhead"] = _time(phases.overhead(split))
        row["one X @ w"] = _time(product)
        row["overhead / X @ w"] = f"{phases.overhead(split) / product:.2f}"
        rows.append(row)
    return ["## Whole fits: where the time goes", "",
            "A one-epoch `GDClassifier(batch_size=...)` fit with every other parameter at its "
            "default (`fastgd/bench/phases.py`), its time split into phases: validation "
            "(scikit-learn's checks and the pass over X for its finiteness and row norms), labels "
            "and weights, the \"auto\" step, the epochs (with the driver's checks), and the rest. "
            "The overhead is all but the epochs; `X @ w` is timed before each fit. Medians.",
            "", *_table(rows, ordered=False), ""]


def _cold_first_fits(data):
    """The table of the first fits a new user meets (``fastgd.bench.coldstart``)."""
    measured = {b["extra_info"]["config"]: (b["extra_info"]["cold_s"], b["extra_info"]["warm_s"])
                for b in data["benchmarks"] if b["group"] == coldstart.GROUP}
    wheel = {b["extra_info"]["config"]: b["extra_info"]["cold_s"]
             for b in data["benchmarks"] if b["group"] == coldstart.WHEEL_GROUP}
    if not measured:
        return []
    return ["## First fits: compile time", "",
            "The fit alone (imports and data excluded) in a fresh process with an empty "
            "`NUMBA_CACHE_DIR`, then in another with the cache it left, installed from the source "
            "(editable: kernels compiled on first use) and from the wheel (its prebuilt kernels, "
            "`fastgd/_prebuilt`); one run each (`python -m fastgd.bench.coldstart --wheel` prints "
            f"the same table). The before column is `{coldstart.BEFORE.name}`: the same "
            "configurations measured before issue 27, when the kernels chose the loss and "
            "optimizer inside their loops and compiled every one of them. Targets: from the "
            "source (issue 27) the README example and the defaults at most 3 s, other "
            "configurations 5 s, `local_sgd` 8 s; from the wheel (issue 28) the README example "
            "and `GDClassifier()` 0.5 s, CSR and `MLPClassifier()` 1 s.", "",
            *_table(coldstart.table(measured, wheel)), ""]


def _startup(data):
    rows = []
    for bench in data["benchmarks"]:
        extra = bench["extra_info"]
        if bench["group"] == "first fit in a fresh process":
            rows.append({
                "backend": extra["variant"],
                "import fastgd": _time(extra["warm_import_s"]),
                "first fit, empty cache (compile)": _time(extra["cold_first_fit_s"]),
                "first fit, cache warm (load)": _time(extra["warm_first_fit_s"]),
                "whole process, cache warm": _time(bench["stats"]["median"]),
            })
    if not rows:
        return []
    sklearn = [b["extra_info"]["import_s"] for b in data["benchmarks"]
               if b["group"] == "import scikit-learn in a fresh process"]
    return ["## Start-up: import and first fit in a fresh process", "",
            "Timed apart from every kernel benchmark: a new Python process imports fastgd and fits "
            "100 x 4 for one epoch, first with an empty `NUMBA_CACHE_DIR` (JIT compile), then with "
            "the cache that run left; \"auto\" is the default estimator."
            + (f" `import sklearn` alone, timed the same way: {_time(sklearn[0])}."
               if sklearn else ""), "", *_table(rows)]


# --- figures ----------------------------------------------------------------------------------

def _figure(sweep, cases, medians, path):
    """Time per call against the sweep's axis (log-log) and, where NumPy ran, the speedup over it."""
    has_reference = any((case.id, REFERENCE) in medians for case in cases)
    figure = Figure(figsize=(10 if has_reference else 5, 4), layout="constrained")
    time_axes, *speedup_axes = figure.subplots(1, 1 + has_reference, squeeze=False)[0]
    for variant in VARIANTS:
        for dtype, style in (("float64", "-o"), ("float32", "--s")):
            points = [(_x(case, sweep.axis), medians.get((case.id, variant)),
                       medians.get((case.id, REFERENCE))) for case in cases if case.dtype == dtype]
            timed = [(x, t) for x, t, _ in points if t]
            color = f"C{VARIANTS.index(variant)}"
            if timed:
                time_axes.loglog(*zip(*timed), style, color=color,
                                 label=f"{LABELS.get(variant, variant)} {dtype}")
            ratios = [(x, ref / t) for x, t, ref in points if t and ref and variant in COMPILED]
            for axes in speedup_axes if ratios else ():
                axes.loglog(*zip(*ratios), style, color=color, label=f"{variant} {dtype}")
    axis = AXIS_LABELS[sweep.axis] + (" (full batch = all rows)" if sweep.axis == "batch" else "")
    time_axes.set(xlabel=axis, ylabel="seconds per call", title=sweep.name)
    for axes in speedup_axes:
        axes.set(xlabel=axis, ylabel="speedup over NumPy", title="speedup over NumPy")
        axes.axhline(1, color="grey", lw=0.8)
    for axes in (time_axes, *speedup_axes):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    figure.savefig(path, dpi=100)


def _x(case, axis):
    value = getattr(case, axis)
    return case.n if value is None else value  # a full batch is all the rows


# --- formatting -------------------------------------------------------------------------------

def _label(case, skip=None):
    parts = {"kind": f"one {case.kind}", "model": case.model, "optimizer": case.optimizer,
             "n": f"{case.n:,} rows", "d": f"{case.d:,} features",
             "batch": "full batch" if case.batch is None else f"batch {case.batch}"}
    if case.epochs != 1:
        parts["kind"] = f"a {case.epochs}-epoch {case.kind}"
    if case.serial:
        parts["serial"] = "BLAS on one thread"
    if case.data == "text":
        parts["data"] = "text-like CSR"
    if skip == "epochs":
        parts["kind"] = f"a {case.kind}"
    parts.pop(skip, None)
    return ", ".join(parts.values())


def _value(value):
    if value is None:
        return "full"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ratio(reference, variant):
    return _in_unit(reference / variant, "x")


def _time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _duration(seconds):
    return "?" if seconds is None else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _slug(name):
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")
