"""fastgd/bench/phases.py: the whole fit's time split into phases, measured inside a real fit."""

import time

import numpy as np

from fastgd import GDClassifier, _base
from fastgd.bench import phases


def test_the_phases_of_a_fit_add_up_to_at_most_the_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5_000, 4))
    y = (X[:, 0] > 0).astype(int)
    model = GDClassifier(epochs=3, batch_size=None).fit(X, y)
    originals = {(owner, name): owner.__dict__[name]
                 for functions in phases.PHASES.values() for owner, name in functions}
    totals, split = [], []
    for _ in range(3):
        seconds = {}
        start = time.perf_counter()
        with phases.timed_phases(seconds):
            model.fit(X, y)
        totals.append(time.perf_counter() - start)
        split.append(seconds)
    assert set(split[0]) == set(phases.PHASES)  # each phase ran, once counted
    assert all(sum(s.values()) <= total for s, total in zip(split, totals))
    # the functions are put back
    assert all(owner.__dict__[name] is fn for (owner, name), fn in originals.items())
    assert _base.train is originals[_base, "train"]
    medians = phases.split(totals, split)
    assert set(medians) == {*phases.PHASES, "other", "fit"}
    assert medians["epochs"] > 0 and medians["other"] >= 0
    outside = ("validation", "labels and weights", "step", "other")
    assert phases.overhead(medians) == sum(medians[phase] for phase in outside)
