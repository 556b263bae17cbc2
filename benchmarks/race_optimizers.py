"""How many epochs and seconds each optimizer needs to reach a loss within 1% of the optimum, for
logistic regression on 100,000 x 32 (the table in the optimizer issue's note).

    python benchmarks/race_optimizers.py [--rows 100000] [--batch-size 32]

The optimum is scikit-learn's unpenalised LogisticRegression (C=inf) (lbfgs to tol 1e-10), in fastgd's loss:
the mean log loss. Each optimizer runs with each learning rate of a grid and the best is reported
(fewest epochs, then least time); after every epoch a callback computes the exact training loss
(its time is left out) and stops the fit once it is within 1%.
"""

import argparse
import time

import numba
import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import fastgd
from fastgd import GDClassifier

RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    scores = X @ rng.standard_normal(d) / np.sqrt(d) * 3 + rng.standard_normal(n)
    return X, (scores > 0).astype(int)


def mean_log_loss(model, X, y):
    p = np.clip(model.predict_proba(X)[:, 1], 1e-300, 1 - 1e-16)
    return -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))


def race(optimizer, rate, X, y, target, batch_size, max_epochs):
    """Return ``(epochs, seconds)`` to reach ``target``, or None."""
    spent_in_callback = 0.0

    def stop(epoch, loss, model):
        nonlocal spent_in_callback
        start = time.perf_counter()
        reached = mean_log_loss(model, X, y) <= target
        spent_in_callback += time.perf_counter() - start
        return reached

    model = GDClassifier(optimizer=optimizer, learning_rate=rate, batch_size=batch_size,
                         epochs=max_epochs, callback=stop, random_state=0)
    model.fit(X[:1000], y[:1000])  # compile outside the timing
    spent_in_callback = 0.0
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        try:
            model.fit(X, y)
        except fastgd.DivergenceError:
            return None
    seconds = time.perf_counter() - start - spent_in_callback
    return (model.n_iter_, seconds) if model.stop_reason_ == "callback" else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=30)
    args = parser.parse_args()
    numba.set_num_threads(1)
    X, y = problem(args.rows, args.features)
    with threadpool_limits(1):
        best = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
        optimum = mean_log_loss(best, X, y)
        target = 1.01 * optimum
        print(f"logistic regression {args.rows} x {args.features}, batch size {args.batch_size}: "
              f"optimum {optimum:.5f}, target {target:.5f}\n")
        print("| optimizer | learning rate | epochs | seconds |")
        print("|---|---:|---:|---:|")
        for optimizer in fastgd.OPTIMIZERS:
            results = [(race(optimizer, rate, X, y, target, args.batch_size, args.max_epochs), rate)
                       for rate in RATES]
            reached = [(r[0], r[1], rate) for r, rate in results if r is not None]
            if not reached:
                print(f"| {optimizer} | - | > {args.max_epochs} | - |")
                continue
            epochs, seconds, rate = min(reached)
            print(f"| {optimizer} | {rate:g} | {epochs} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
