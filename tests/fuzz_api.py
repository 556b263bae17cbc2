"""Fuzzing of the public API (issue 17): hypothesis draws an estimator, a value for every parameter
of its constraint table and a data set (n 1..60, d 1..30, X float32, float64, int64 or bool from
subnormal to huge, constant columns, duplicate rows, labels of four types, targets, sample
weights). Each case must fit a model whose parameters, predictions and loss history are finite, or
refuse with a ValueError, TypeError or DivergenceError whose message says what is wrong.

``tests/test_fuzz.py`` runs this module in a subprocess, so that a crash of the interpreter fails
that test instead of killing pytest; pytest does not collect it. Alone::

    python tests/fuzz_api.py --examples 500 --seed 3 [--show-cases] [--messages] [--kernels all]

A failing case is printed as a ``Case(...)``; ``Case(...).run()`` replays it.
"""

import argparse
import faulthandler
import json
import re
import sys
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import InvalidParameterError, Interval, StrOptions

from fastgd import DivergenceError, GDClassifier, GDRegressor, MLPClassifier, MLPRegressor

ESTIMATORS = {cls.__name__: cls for cls in (GDClassifier, GDRegressor, MLPClassifier,
                                            MLPRegressor)}

#: Parameters drawn here rather than from the constraint table: few epochs and small layers keep a
#: case to milliseconds, and a callback or a progress bar would only test themselves.
FIXED = {
    "epochs": st.integers(1, 3),
    "hidden_layer_sizes": st.one_of(st.integers(1, 8),
                                    st.lists(st.integers(1, 8), max_size=2).map(tuple)),
    "callback": st.none(),
    "verbose": st.just(False),
}

#: The scales of X's values per dtype; "mixed" gives each column one of its dtype's scales.
SCALES = {
    "float32": {"normal": 1.0, "huge": 1e30, "tiny": 1e-30, "subnormal": 1e-40},
    "float64": {"normal": 1.0, "huge": 1e300, "tiny": 1e-300, "subnormal": 1e-310},
    "int64": {"normal": 3.0, "huge": 1e18},
    "bool": {"normal": 1.0},
}

#: The label values of each type, of which a case takes 1 to 5 (bool: 1 or 2).
LABELS = {
    "int": (0, 1, 2, -1, 7),
    "str": ("a", "b", "spam", "eggs", "z"),
    "float": (0.0, 1.0, -1.0, 2.0, 10.0),
    "bool": (False, True),
}

#: The kinds of sample weights drawn (half the cases have none); fit must refuse the last three.
SAMPLE_WEIGHTS = ("positive", "some_zero", "integers", "huge", "tiny", "subnormal", "all_zero",
                  "one_negative")

#: The numbers of classes drawn, one in nine a single class (which fit must refuse): most cases
#: should get as far as training.
CLASS_COUNTS = (2, 3, 4, 5, 2, 3, 4, 5, 1)

#: The only exceptions a case may raise (InvalidParameterError is scikit-learn's ValueError and
#: TypeError for a parameter outside its constraints); any other, a LinAlgError say, is a finding.
REFUSALS = (DivergenceError, InvalidParameterError, ValueError, TypeError)

#: A refusal must say what is wrong: a message at least this long.
MIN_MESSAGE = 20


def constant_schedule(epoch):
    """A callable schedule, the one kind of value of ``schedule`` that is not a string."""
    return 0.01


def interval_values(interval):
    """Edges of ``interval`` (its closed edges, and the nearest value inside an open one) and a
    few values inside it."""
    integral = interval.type is Integral
    left, right = interval.left, interval.right
    values = []
    if left is not None:
        closed = interval.closed in ("left", "both")
        values.append(left if closed else left + 1 if integral else np.nextafter(left, np.inf))
    if right is not None:
        closed = interval.closed in ("right", "both")
        values.append(right if closed else right - 1 if integral else np.nextafter(right, -np.inf))
    if left is not None and right is not None:
        values += [left + (right - left) * f for f in (0.1, 0.5, 0.9)]
    elif left is not None:
        values += [left + step for step in ((1, 2, 10) if integral else (1e-8, 1e-3, 0.5, 10, 1e6))]
    return [int(v) if integral else float(v) for v in values]


def constraint_values(constraint):
    """The values drawn for one entry of a ``_parameter_constraints`` list."""
    if constraint is None:
        return st.none()
    if isinstance(constraint, StrOptions):
        return st.sampled_from(sorted(constraint.options - (constraint.deprecated or set())))
    if isinstance(constraint, Interval):
        return st.sampled_from(interval_values(constraint))
    if constraint == "boolean":
        return st.booleans()
    if constraint == "random_state":
        return st.one_of(st.none(), st.integers(0, 2**32 - 1))
    if constraint is callable:
        return st.just(constant_schedule)
    if constraint is Real:
        return st.sampled_from([-1.0, 0.0, 0.5, 1e30])
    raise TypeError(f"no values to draw for the constraint {constraint!r}: add it to FIXED or to "
                    "constraint_values.")


#: With ``--kernels few`` (the test suite's run), the losses and optimizers drawn: the kernels
#: compile for each loss and optimizer they meet (seconds each on a cold cache), and what the
#: fuzzing tries of the API is the same for all of them; ``--kernels all`` draws every one.
FEW_KERNELS = {"optimizer": ("sgd", "adam"), "loss": {"classifier": ("log_loss", "hinge"),
                                                     "regressor": ("squared_error", "huber")}}
KERNELS = {"all": False}


def parameter_values(name, constraints, labels):
    """The values drawn for parameter ``name``; a ``class_weight`` dict names some of ``labels``
    (None for a regressor)."""
    if name in FIXED:
        return FIXED[name]
    if not KERNELS["all"] and name in FEW_KERNELS:
        few = FEW_KERNELS[name]
        if isinstance(few, dict):
            few = few["regressor" if labels is None else "classifier"]
        return st.sampled_from(few)
    if name == "class_weight":
        weights = st.sampled_from([0.0, 0.5, 3.0, 1e30])
        as_dict = st.lists(st.tuples(st.sampled_from(labels), weights), max_size=len(labels))
        return st.one_of(st.none(), st.just("balanced"), as_dict.map(dict))
    return st.one_of([constraint_values(c) for c in constraints])


@dataclass
class Case:
    """One fuzzing case: the estimator's class name and parameters, and how to draw its data from
    ``seed``. Its repr replays it: ``Case(...).run()``."""

    estimator: str
    params: dict
    n: int
    d: int
    dtype: str
    magnitude: str
    constant_columns: tuple
    duplicates: int
    labels: tuple | None  # the classes to draw labels from; None for a regressor
    targets: str  # a regressor's: "<dtype> <magnitude> <columns>", columns 0 for a 1-D y
    sample_weight: str | None
    seed: int

    def data(self):
        """``(X, y, sample_weight)``."""
        rng = np.random.default_rng(self.seed)
        X = _values(rng, (self.n, self.d), self.dtype, self.magnitude)
        for column in self.constant_columns:
            X[:, column] = X[0, column]
        for _ in range(self.duplicates):
            X[rng.integers(self.n)] = X[rng.integers(self.n)]
        if self.labels is not None:
            k = len(self.labels)
            classes = rng.integers(0, k, self.n)
            classes[:k] = np.arange(min(k, self.n))  # every class present when there are rows
            y = np.array(self.labels)[rng.permutation(classes)]
        else:
            dtype, magnitude, columns = self.targets.split()
            y = _values(rng, (self.n, int(columns)) if int(columns) else (self.n,), dtype, magnitude)
        return X, y, _sample_weight(rng, self.n, self.sample_weight)

    def run(self):
        """Fit; return ``(outcome, message)``: ("fitted", None), or a refusal's class name and
        message. Raises for a finding."""
        X, y, sample_weight = self.data()
        model = ESTIMATORS[self.estimator](**self.params)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # overflow warnings of huge inputs are expected
                model.fit(X, y, sample_weight=sample_weight)
                if model.warm_start:  # the second fit continues from the first
                    model.fit(X, y, sample_weight=sample_weight)
        except REFUSALS as error:
            if type(error) not in REFUSALS:
                raise
            message = str(error)
            assert len(message) >= MIN_MESSAGE, f"{type(error).__name__} says too little: {message!r}"
            outcome = "DivergenceError" if isinstance(error, DivergenceError) else (
                "TypeError" if isinstance(error, TypeError) else "ValueError")
            return outcome, message
        check_fitted(model, X)
        return "fitted", None


def _values(rng, shape, dtype, magnitude):
    """Standard normal values at the scale of ``magnitude`` ("mixed": a scale per column) in
    ``dtype``: int64 rounded (and kept inside its range), bool their sign."""
    scales = SCALES[dtype]
    if magnitude == "constant":
        values = np.full(shape, rng.choice(list(scales.values())))
    elif magnitude == "mixed":
        columns = shape[1] if len(shape) > 1 else 1
        values = rng.standard_normal(shape) * rng.choice(list(scales.values()), columns)
    else:
        values = rng.standard_normal(shape) * scales[magnitude]
    if dtype == "int64":
        return np.clip(np.round(values), -9e18, 9e18).astype(np.int64)
    if dtype == "bool":
        return values > 0
    return values.astype(dtype)


def _sample_weight(rng, n, kind):
    if kind is None:
        return None
    w = rng.uniform(0.5, 2.0, n)
    if kind == "some_zero":
        w[rng.random(n) < 0.5] = 0.0
    elif kind == "all_zero":
        w[:] = 0.0
    elif kind == "one_negative":
        w[rng.integers(n)] = -1.0
    elif kind == "integers":
        return rng.integers(0, 4, n)
    elif kind == "huge":
        w *= 1e300
    elif kind == "tiny":
        w *= 1e-300
    elif kind == "subnormal":
        w *= 1e-310
    return w


def check_fitted(model, X):
    """The fitted parameters, the loss history and every prediction method's output on ``X`` are
    finite (a classifier's predictions are among its classes)."""
    outputs = {"loss_history_": model.loss_history_}
    if hasattr(model, "coef_"):
        outputs.update(coef_=model.coef_, intercept_=model.intercept_)
    else:
        outputs.update({f"coefs_[{i}]": W for i, W in enumerate(model.coefs_)})
        outputs.update({f"intercepts_[{i}]": b for i, b in enumerate(model.intercepts_)})
    assert len(model.loss_history_) > 0, "loss_history_ is empty after a fit"
    predictions = model.predict(X)
    assert len(predictions) == X.shape[0], f"predict returned {len(predictions)} rows"
    if hasattr(model, "classes_"):
        assert np.isin(predictions, model.classes_).all(), "predict returned labels not in classes_"
    else:
        outputs["predict"] = predictions
    for method in ("decision_function", "predict_proba"):
        if hasattr(model, method):
            outputs[method] = getattr(model, method)(X)
    for name, value in outputs.items():
        bad = ~np.isfinite(np.asarray(value, dtype=np.float64))
        assert not bad.any(), (f"{name} has {bad.sum()} non-finite values after a fit that "
                               f"returned: {np.asarray(value).ravel()[bad.ravel()][:5]}")
    if "predict_proba" in outputs:
        sums = outputs["predict_proba"].sum(axis=1)
        assert np.allclose(sums, 1, atol=1e-4), f"predict_proba rows sum to {sums[:5]}, not 1"


@st.composite
def cases(draw, estimator):
    """A :class:`Case` of the estimator class ``estimator``."""
    n, d = draw(st.integers(1, 60), label="n"), draw(st.integers(1, 30), label="d")
    dtype = draw(st.sampled_from(list(SCALES)))
    magnitude = draw(st.sampled_from([*SCALES[dtype], "mixed"]))
    constant_columns = tuple(sorted(draw(st.sets(st.integers(0, d - 1), max_size=d))))
    duplicates = draw(st.integers(0, n - 1))
    if issubclass(estimator, ClassifierMixin):
        kind = draw(st.sampled_from(list(LABELS)))
        k = min(draw(st.sampled_from(CLASS_COUNTS)), len(LABELS[kind]))
        labels, targets = tuple(draw(st.permutations(LABELS[kind]))[:k]), ""
    else:
        labels = None
        y_dtype = draw(st.sampled_from(["float32", "float64"]))
        y_magnitude = draw(st.sampled_from([*SCALES[y_dtype], "mixed", "constant"]))
        targets = f"{y_dtype} {y_magnitude} {draw(st.integers(0, 3))}"
    params = {name: draw(parameter_values(name, constraints, labels), label=name)
              for name, constraints in sorted(estimator._parameter_constraints.items())}
    return Case(estimator.__name__, params, n, d, dtype, magnitude, constant_columns, duplicates,
                labels, targets, draw(st.one_of(st.none(), st.sampled_from(SAMPLE_WEIGHTS))),
                draw(st.integers(0, 2**32 - 1)))


def fuzz(estimator, examples, seed_value, outcomes, show_cases=False, messages=None):
    """Run ``examples`` hypothesis examples of ``estimator``, counting their outcomes in
    ``outcomes``; raises at the first finding, after hypothesis has shrunk it and printed it."""

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(cases(estimator))
    def check(case):
        if show_cases:  # before the fit: the last case shown is the one that crashed
            print(repr(case), file=sys.stderr, flush=True)
        outcome, message = case.run()
        outcomes[outcome] += 1
        if messages is not None and message is not None:
            messages[re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", message)] += 1

    check()


def main(examples=60, seed_value=0, show_cases=False, messages=False):
    """Fuzz every estimator; print the outcomes as one JSON line (an estimator with a finding has
    "finding": true). Returns the exit code: 1 if any estimator had a finding, each printed with
    its shrunk case, else 0."""
    faulthandler.enable()  # a crash prints the Python stack of the kernel call that crashed
    results, seen = {}, Counter() if messages else None
    for name, estimator in ESTIMATORS.items():
        outcomes = Counter()
        try:
            fuzz(estimator, examples, seed_value, outcomes, show_cases, seen)
        except Exception:
            print(f"FINDING in {name} (seed {seed_value}):", flush=True)
            traceback.print_exc(file=sys.stdout)
            outcomes["finding"] = True
        results[name] = dict(outcomes)
    if seen:
        for message, count in seen.most_common():
            print(f"{count:5d}  {message}")
    print(json.dumps({"examples": examples, "seed": seed_value, "outcomes": results}))
    return int(any("finding" in outcomes for outcomes in results.values()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.partition("\n\n")[0])
    parser.add_argument("--examples", type=int, default=60, help="hypothesis examples per estimator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-cases", action="store_true",
                        help="print each case to stderr before it runs")
    parser.add_argument("--messages", action="store_true",
                        help="print each distinct refusal message with its count")
    parser.add_argument("--kernels", choices=("few", "all"), default="few",
                        help="draw two losses and two optimizers (few, the default) or all")
    args = parser.parse_args()
    KERNELS["all"] = args.kernels == "all"
    sys.exit(main(args.examples, args.seed, args.show_cases, args.messages))
