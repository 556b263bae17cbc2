"""``fastgd demo NAME``: the classic gradient-descent tutorials, run through fastgd.

Each demo prints what its tutorial prints and writes its figures to ``--out``:

- ``blobs``: the sigmoid classifier on ``make_blobs`` (1,000 points, std 1.5, seed 1, split 50/50),
  the loss every few epochs and a classification report on the test split; the data with the
  learned decision boundary, the loss per epoch, and an animation of the boundary being learned.
- ``line``: the toy line ``y = 2x - 1`` with W from 8 and b held at -1; the loss against W with
  the path W took, and the loss per epoch.
- ``linsys``: ``A x = Y`` by gradient descent on the mean of squared residuals, the loss every
  1,000 epochs; the loss per epoch.
- ``optimizers``: every optimizer fastgd has on the toy line, W and b learned together through the
  bias trick (a column of ones); the loss contours with each optimizer's path, and the losses.
- ``digits``: the NumPy article's network (one sigmoid hidden layer, unit-norm initial weights)
  telling the digit 0 from 1, on scikit-learn's bundled ``load_digits`` (MNIST cannot be
  downloaded here); the loss per epoch and test digits with their predicted labels.
"""

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import PillowWriter
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import classification_report
from sklearn.model_selection import train_test_split

from fastgd import OPTIMIZERS, GDClassifier, GDRegressor, MLPClassifier
from fastgd import backends
from fastgd.plot import (WeightRecorder, animate_decision_boundary, plot_decision_boundary,
                         plot_loss, plot_loss_landscape)

#: Learning rate of each optimizer in the optimizers demo, in its usual range for the toy line:
#: momentum's steps build up to 1 / (1 - momentum) = 10 times the rate, and the adaptive optimizers
#: step about the rate per weight whatever the gradient, so they need larger rates to cover the
#: distance from the start in 100 epochs (adagrad's steps also shrink as it goes).
OPTIMIZER_RATES = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 1.0, "rmsprop": 0.1,
                   "adam": 0.3, "adamw": 0.3}

#: The toy line of the JAX walk-through: ys = 2 xs - 1.
LINE_X = np.array([-1.0, 0.0, 1.0, 2.0, 3.0, 4.0])
LINE_Y = 2 * LINE_X - 1


def blobs(args):
    """Sigmoid classifier on two blobs: loss, classification report, boundary and its animation."""
    X, y = make_blobs(n_samples=1000, n_features=2, centers=2, cluster_std=1.5, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=42)
    recorder = WeightRecorder()
    # log loss: the tutorial's update, X.T @ (sigmoid(X W) - y) / N, is exactly its gradient
    model = GDClassifier(loss="log_loss", callback=recorder, **_training(args))
    model.fit(X_train, y_train)
    _print_losses(model.loss_history_)
    print(classification_report(y_test, model.predict(X_test)))
    _save(plot_decision_boundary(model, X_test, y_test), args.out, "blobs_boundary.png")
    _save(plot_loss({_describe(args): model}), args.out, "blobs_loss.png")
    animation = animate_decision_boundary(model, X_test, y_test, recorder)
    path = args.out / "blobs_boundary.gif"
    animation.save(path, writer=PillowWriter(fps=10), dpi=80)
    print(f"wrote {path}")
    return animation


def line(args):
    """The toy line: W from 8 with b held at -1; the loss against W and the path W took."""
    recorder = WeightRecorder()
    model = GDRegressor(fit_intercept=False, callback=recorder, **_training(args))
    model.fit(LINE_X[:, None], LINE_Y, coef_init=[8.0], intercept_init=-1.0)
    _print_losses(model.loss_history_)
    print(f"W = {model.coef_[0]:.6f} (the line's slope is 2), b = {model.intercept_[0]:g} (held)")
    fig = plot_loss_landscape(model, LINE_X[:, None], LINE_Y, {_describe(args): recorder},
                              coef_init=[8.0], weight_names=["slope $W$"])
    _save(fig, args.out, "line_landscape.png")
    _save(plot_loss({_describe(args): model}), args.out, "line_loss.png")


def linsys(args):
    """A x = Y by gradient descent from x = 0, the loss every 1,000 epochs."""
    A = np.array([[5.0, 1.0, -1.0], [2.0, -1.0, 1.0], [1.0, 3.0, -2.0]])
    Y = np.array([1.0, 4.0, 0.0])
    model = GDRegressor(fit_intercept=False, **_training(args)).fit(A, Y)
    _print_losses(model.loss_history_)
    print(f"x = {np.array2string(model.coef_, precision=6)}; "
          f"np.linalg.solve(A, Y) = {np.array2string(np.linalg.solve(A, Y), precision=6)}")
    _save(plot_loss({_describe(args): model}), args.out, "linsys_loss.png")


def optimizers(args):
    """Every optimizer on the toy line, W and b learned together: contours and each path."""
    X = np.column_stack([LINE_X, np.ones_like(LINE_X)])  # the bias trick: b is the second weight
    start = [8.0, 2.0]
    recorders, models = {}, {}
    print(f"{'optimizer':<10} {'rate':>6} {'final loss':>12} {'W':>9} {'b':>9}")
    for name in OPTIMIZERS:
        # an optimizer without a rate of its own here starts from sgd's
        rate = args.alpha or OPTIMIZER_RATES.get(name, OPTIMIZER_RATES["sgd"])
        label = f"{name}, learning rate {rate:g}"
        recorders[label] = WeightRecorder()
        models[label] = GDRegressor(fit_intercept=False, callback=recorders[label],
                                    **_training(args, optimizer=name, learning_rate=rate))
        models[label].fit(X, LINE_Y, coef_init=start)
        W, b = models[label].coef_
        print(f"{name:<10} {rate:6g} {models[label].loss_history_[-1]:12.4g} {W:9.4f} {b:9.4f}")
    fig = plot_loss_landscape(next(iter(models.values())), X, LINE_Y, recorders, coef_init=start,
                              weight_names=["slope $W$", "intercept $b$ (on a column of ones)"])
    _save(fig, args.out, "optimizers_landscape.png")
    _save(plot_loss(models), args.out, "optimizers_loss.png")


def digits(args):
    """An MLP telling the digit 0 from 1: loss, classification report, predicted test digits."""
    X, y = load_digits(n_class=2, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.5, random_state=42)
    model = MLPClassifier(hidden_layer_sizes=(64,), activation="logistic", init="unit_norm",
                          **_training(args))
    model.fit(X_train, y_train)
    _print_losses(model.loss_history_)
    predicted = model.predict(X_test)
    print(classification_report(y_test, predicted))
    _save(plot_loss({_describe(args): model}), args.out, "digits_loss.png")
    fig, axes = plt.subplots(3, 8, figsize=(8, 3.6))
    for ax, image, label, truth in zip(axes.flat, X_test, predicted, y_test):
        ax.imshow(image.reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{label}" if label == truth else f"{label} (is {truth})",
                     color="black" if label == truth else "red", fontsize=9)
        ax.axis("off")
    fig.suptitle("Test digits and the network's predictions")
    _save(fig, args.out, "digits_predictions.png")


#: demo name -> (function, its defaults for --epochs and --alpha, whether it takes --optimizer,
#: the model family it trains: its name in ``fastgd.backends.FAMILIES``, whose backends --backend
#: offers)
DEMOS = {
    "blobs": (blobs, {"epochs": 100, "alpha": 0.01}, True, "linear"),
    "line": (line, {"epochs": 50, "alpha": 0.01}, True, "linear"),
    "linsys": (linsys, {"epochs": 10_000, "alpha": 0.01}, True, "linear"),
    "optimizers": (optimizers, {"epochs": 100, "alpha": None}, False, "linear"),
    "digits": (digits, {"epochs": 100, "alpha": 0.5}, True, "mlp"),
}

#: how the demos' help names each family's models
FAMILY_MODELS = {"linear": "a linear model", "mlp": "an MLP"}


def add_parser(subparsers):
    """Add ``demo`` and one sub-command per demo to the ``fastgd`` command's parser."""
    parser = subparsers.add_parser(
        "demo", help="run a classic tutorial and write its figures",
        description="Run one of the classic gradient-descent tutorials through fastgd: it prints "
                    "what the tutorial prints and writes its figures.")
    demos = parser.add_subparsers(dest="demo", required=True, metavar="NAME")
    for name, (function, defaults, takes_optimizer, family) in DEMOS.items():
        demo = demos.add_parser(name, help=function.__doc__, description=function.__doc__)
        demo.add_argument("--epochs", type=_positive(int), default=defaults["epochs"],
                          help=f"passes over the data (default: {defaults['epochs']})")
        demo.add_argument("--alpha", type=_positive(float), default=defaults["alpha"],
                          help=f"learning rate (default: {defaults['alpha']})" if defaults["alpha"]
                          else "learning rate of every optimizer (default: one for each)")
        if takes_optimizer:
            demo.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                              help="update rule (default: sgd)")
        demo.add_argument("--batch-size", type=_positive(int), default=None,
                          help="rows per update (default: all, vanilla gradient descent)")
        table = backends.FAMILIES[family]
        demo.add_argument("--backend", choices=list(table), default="numba",
                          help=f"the {name} demo trains {FAMILY_MODELS[family]}, whose backends "
                               f"are {', '.join(table)} (default: numba)")
        demo.add_argument("--out", type=Path, default=Path("results/figures"),
                          help="directory for the figures (default: results/figures)")
        demo.add_argument("--show", action="store_true", help="also open the figures in a window")


def run(args):
    """Run the demo ``args.demo``, write its figures, and show them if ``args.show``."""
    args.out.mkdir(parents=True, exist_ok=True)
    before = set(plt.get_fignums())
    # a demo returns its animation, if it has one, which plays only while it is referenced
    _animation = DEMOS[args.demo][0](args)
    if args.show:
        plt.show()
    for number in set(plt.get_fignums()) - before:
        plt.close(number)


def _training(args, optimizer=None, learning_rate=None):
    """Estimator parameters from the command line; the arguments override ``--optimizer`` and
    ``--alpha``."""
    return dict(optimizer=optimizer or args.optimizer, learning_rate=learning_rate or args.alpha,
                epochs=args.epochs, batch_size=args.batch_size, backend=args.backend,
                random_state=0)


def _describe(args):
    batch = "full batch" if args.batch_size is None else f"batch size {args.batch_size}"
    return f"{args.optimizer}, learning rate {args.alpha:g}, {batch}"


def _print_losses(history):
    """Print the loss of about ten evenly spaced epochs and of the last one."""
    every = max(1, len(history) // 10)
    for epoch in sorted({*range(0, len(history), every), len(history) - 1}):
        print(f"epoch {epoch:>{len(str(len(history)))}}  loss {history[epoch]:.6g}")


def _save(fig, out, name):
    path = out / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"wrote {path}")


def _positive(kind):
    """An argparse type converting to ``kind`` and refusing values <= 0."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return convert
