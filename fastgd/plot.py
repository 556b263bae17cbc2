"""Pictures of training: the data with the learned decision boundary, the loss per epoch, an
animation of the boundary being learned, and the loss landscape with the path the weights took.

Each function returns a matplotlib object made through pyplot (so it shows in notebooks and with
``plt.show()``) and leaves saving and closing it to the caller.

What the animation and the landscape need per epoch is recorded only on request: pass a
:class:`WeightRecorder` as the estimator's ``callback``. A fit without one records nothing and runs
at full speed::

    recorder = WeightRecorder()
    model = GDClassifier(learning_rate=0.01, batch_size=None, callback=recorder).fit(X, y)
    plot_decision_boundary(model, X, y).savefig("boundary.png")
    animation = animate_decision_boundary(model, X, y, recorder)
    animation.save("boundary.gif", writer=matplotlib.animation.PillowWriter(fps=10))
"""

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from sklearn.utils import check_X_y
from sklearn.utils.validation import check_is_fitted

from .gradcheck import _training_objective


class WeightRecorder:
    """Estimator callback that keeps the weights after every epoch.

    Pass it as ``callback=`` to :class:`~fastgd.GDClassifier` or :class:`~fastgd.GDRegressor`; it
    never stops training. Records accumulate: a recorder passed to successive ``partial_fit`` or
    ``warm_start`` fits holds the whole path. Use a new one for each independent fit.

    Attributes
    ----------
    epochs : list of int
        The epoch numbers the estimator passed, as they index ``loss_history_``.
    losses : list of float
        The training loss of each epoch (``loss_history_``'s value).
    coefs : list of ndarray
        Copies of ``coef_`` after each epoch.
    intercepts : list of ndarray
        Copies of ``intercept_`` after each epoch.
    """

    def __init__(self):
        self.epochs = []
        self.losses = []
        self.coefs = []
        self.intercepts = []

    def __call__(self, epoch, loss, estimator):
        self.epochs.append(epoch)
        self.losses.append(float(loss))
        self.coefs.append(np.array(estimator.coef_))
        self.intercepts.append(np.array(estimator.intercept_))
        return False

    def __len__(self):
        return len(self.epochs)


def plot_decision_boundary(estimator, X, y):
    """Plot two-feature data coloured by class, with a two-class linear classifier's boundary.

    The boundary is the line where the score is zero, ``x2 = (-b - w1 x1) / w2``.

    Parameters
    ----------
    estimator : fitted GDClassifier
        Two classes, fitted on two features.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        Class labels, among ``estimator.classes_``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X, y = _check_plane(estimator, X, y, "plot_decision_boundary")
    fig, ax = _plane(estimator.classes_, X, y)
    (w1, w2), b = estimator.coef_[0], estimator.intercept_[0]
    ax.plot(*_boundary_line((w1, w2), b, ax.get_xlim(), ax.get_ylim()), color="black",
            label="decision boundary")
    ax.set_title(f"Data and the learned decision boundary\n"
                 f"${w1:.3g}\\,x_1 {w2:+.3g}\\,x_2 {b:+.3g} = 0$")
    fig.legend(loc="outside lower center", ncols=3)
    return fig


def animate_decision_boundary(estimator, X, y, recorder, *, interval=100):
    """Animate the decision boundary of each recorded epoch over the data.

    Parameters
    ----------
    estimator : fitted GDClassifier
        As for :func:`plot_decision_boundary`; it supplies the class labels.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
    recorder : WeightRecorder
        The callback the fit ran with.
    interval : int
        Milliseconds between frames when shown in a window.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        One frame per recorded epoch, titled with the epoch and its loss. Write it as a GIF with
        ``animation.save(path, writer=matplotlib.animation.PillowWriter(fps=10))``; to play it in a
        window, keep a reference to it until ``plt.show()`` returns.
    """
    X, y = _check_plane(estimator, X, y, "animate_decision_boundary")
    coefs = _recorded_coefs(recorder, 2, "animate_decision_boundary")
    fig, ax = _plane(estimator.classes_, X, y)
    (line,) = ax.plot([], [], color="black", label="decision boundary after the epoch")
    # outside the axes, where the moving boundary cannot run under it
    fig.legend(loc="outside lower center", ncols=3)

    def draw(frame):
        line.set_data(*_boundary_line(coefs[frame], recorder.intercepts[frame][0], ax.get_xlim(),
                                      ax.get_ylim()))
        # the title changes every frame, which also keeps the GIF writer from merging the frames of
        # a boundary that has stopped moving
        ax.set_title(f"Epoch {recorder.epochs[frame]}: training loss {recorder.losses[frame]:.4g}")
        return (line,)

    return FuncAnimation(fig, draw, frames=len(coefs), interval=interval)


def plot_loss(runs, *, log_scale="auto"):
    """Plot the training loss per epoch of one or several fits on one axis.

    Parameters
    ----------
    runs : fitted estimator or mapping of str to fitted estimator
        Several runs are labelled by their keys: compare optimizers, batch sizes or backends.
    log_scale : bool or "auto"
        Logarithmic loss axis (only when every loss is positive). "auto" takes it when the losses
        span more than a factor of 30, where a linear axis would flatten the later epochs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(runs, Mapping):
        runs = {f"{type(runs).__name__}, {getattr(runs, 'loss', '')}": runs}
    if not runs:
        raise ValueError("plot_loss needs at least one fitted estimator; runs is empty.")
    if log_scale not in (True, False, "auto"):
        raise ValueError(f"log_scale must be True, False or 'auto', got {log_scale!r}.")
    fig, ax = plt.subplots()
    histories = []
    for index, (label, estimator) in enumerate(runs.items()):
        check_is_fitted(estimator, "loss_history_")
        history = estimator.loss_history_
        histories.append(history)
        # a line style per run as well as a colour, so that runs that coincide stay visible
        ax.plot(np.arange(len(history)), history, linestyle=["-", "--", "-.", ":"][index % 4],
                label=label)
    losses = np.concatenate(histories)
    if log_scale == "auto":
        log_scale = losses.min() > 0 and losses.max() > 30 * losses.min()
    if log_scale and losses.min() > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss per epoch")
    if len(runs) > 4:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    else:
        ax.legend(loc="best")
    return fig


def plot_loss_landscape(estimator, X, y, paths=None, *, coef_init=None, weight_names=None,
                        sample_weight=None):
    """Plot the training loss against the weights, with the path each recorded fit took.

    For one weight, the loss curve with a path's weights as points on it; for two, contours of the
    loss with a path as a line. Each path gets its own panel over the same landscape, so that paths
    that cross or coincide stay readable. The intercept is held at ``estimator.intercept_``: the
    plot is exact for fits with ``fit_intercept=False`` and a slice of the landscape otherwise.

    Parameters
    ----------
    estimator : fitted GDClassifier or GDRegressor
        One or two weights in ``coef_``; its ``loss`` and ``alpha`` with ``X`` and ``y`` define the
        landscape.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    paths : WeightRecorder or mapping of str to WeightRecorder, optional
        Fits on the same data, for example one per optimizer, labelled by their keys.
    coef_init : array-like, optional
        The weights the fits started from, drawn as the first point of every path.
    weight_names : sequence of str, optional
        Axis labels of the weights; by default ``w`` or ``w_1`` and ``w_2``.
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_is_fitted(estimator)
    size = estimator.coef_.size
    if size not in (1, 2):
        raise ValueError(f"plot_loss_landscape draws the loss against one or two weights; this "
                         f"estimator has {size}. Fit on one or two features.")
    if weight_names is None:
        weight_names = ["weight $w$"] if size == 1 else ["weight $w_1$", "weight $w_2$"]
    if len(weight_names) != size:
        raise ValueError(f"weight_names must name the estimator's {size} weight(s), got "
                         f"{len(weight_names)} names.")
    objective, (_, d) = _training_objective(estimator, X, y, sample_weight)
    b = float(estimator.intercept_[0])
    if paths is None:
        paths = {}
    elif not isinstance(paths, Mapping):
        paths = {"weights after each epoch": paths}
    coefs = {label: _recorded_coefs(recorder, size, "plot_loss_landscape")
             for label, recorder in paths.items()}
    if coef_init is not None:
        start = np.asarray(coef_init, dtype=np.float64).reshape(-1)
        if start.shape != (size,):
            raise ValueError(f"coef_init must have {size} value(s) like coef_, got {start.size}.")
        coefs = {label: np.vstack([start, path]) for label, path in coefs.items()}

    def loss(w):
        return objective(np.append(w, b).reshape(1, d + 1))[0]

    lo, hi = _span([estimator.coef_.reshape(1, -1), *coefs.values()])
    panels = list(coefs.items()) or [(None, None)]
    n_cols = min(len(panels), 4)
    n_rows = -(-len(panels) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, sharex=True, sharey=True, squeeze=False, layout="constrained",
        figsize=None if len(panels) == 1 else (0.6 + 3.6 * n_cols, 0.8 + 3.2 * n_rows))
    if size == 1:
        grid = np.linspace(lo[0], hi[0], 400)
        curve = [loss(w) for w in grid]
    else:
        w1, w2 = np.meshgrid(np.linspace(lo[0], hi[0], 100), np.linspace(lo[1], hi[1], 100))
        surface = np.array([loss(w) for w in zip(w1.ravel(), w2.ravel())]).reshape(w1.shape)
        low, high = surface.min(), surface.max()
        # levels crowd towards the minimum, where the paths end and the interesting shape is
        levels = low + (high - low) * np.geomspace(1e-3, 1, 13)
        # greys, dark at the minimum, leave the colours to the paths
        greys = plt.get_cmap("Greys")(np.linspace(0.9, 0.35, len(levels)))
    for index, (ax, (label, path)) in enumerate(zip(axes.flat, panels)):
        color = f"C{index % 10}"
        if size == 1:
            ax.plot(grid, curve, color="0.4", label="training loss")
            if path is not None:
                ax.plot(path[:, 0], [loss(w) for w in path], "o-", color=color, markersize=4,
                        alpha=0.8, label="weights after each epoch")
            ax.set_ylabel("training loss")
        else:
            contours = ax.contour(w1, w2, surface, levels=levels, colors=greys, linewidths=0.8)
            if path is not None:
                ax.plot(path[:, 0], path[:, 1], "o-", color=color, markersize=2.5,
                        linewidth=1.2, label="weights after each epoch")
            ax.set_ylabel(weight_names[1])
        if coef_init is not None:
            ax.plot(*(start if size == 2 else (start[0], loss(start))), marker="*",
                    color="black", markersize=12, linestyle="none", label="start")
        ax.set_xlabel(weight_names[0])
        ax.label_outer()
        if label is not None:
            ax.set_title(label, color=color)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    if size == 2:
        fig.colorbar(contours, ax=axes, label="training loss", format="%.3g")
    axes[0, 0].legend(loc="best", fontsize="small")
    held = "" if b == 0 and not estimator.fit_intercept else f" (intercept held at {b:.3g})"
    fig.suptitle(f"Loss landscape and the path of the weights{held}")
    return fig


def _check_plane(estimator, X, y, caller):
    """Validate a two-class classifier and its two-feature data; return them as arrays."""
    check_is_fitted(estimator)
    classes = getattr(estimator, "classes_", None)
    if classes is None or len(classes) != 2:
        raise ValueError(f"{caller} draws the line of a two-class classifier; "
                         f"{type(estimator).__name__} has "
                         f"{'no classes_' if classes is None else f'{len(classes)} classes'}.")
    X, y = check_X_y(X, y, dtype=np.float64)
    if X.shape[1] != 2 or estimator.coef_.size != 2:
        raise ValueError(f"{caller} draws data in the plane of two features; X has {X.shape[1]} "
                         f"and the estimator {estimator.coef_.size}. Fit on two columns, or on a "
                         "2-D projection such as sklearn.decomposition.PCA(n_components=2).")
    unknown = np.setdiff1d(y, classes)
    if unknown.size:
        raise ValueError(f"y holds labels the estimator was not fitted on: {unknown!r}.")
    return X, y


def _plane(classes, X, y):
    """Return a figure and axes with each class scattered, the axes fixed to the data so that
    boundaries drawn later do not rescale them."""
    fig, ax = plt.subplots(layout="constrained")
    for label, marker in zip(classes, "o^"):
        rows = y == label
        ax.scatter(X[rows, 0], X[rows, 1], s=14, marker=marker, alpha=0.7, label=f"class {label}")
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = 0.05 * (hi - lo)
    ax.set_xlim(lo[0] - margin[0], hi[0] + margin[0])
    ax.set_ylim(lo[1] - margin[1], hi[1] + margin[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return fig, ax


def _boundary_line(w, b, xlim, ylim):
    """Two points of the line ``w1 x1 + w2 x2 + b = 0`` across the axes.

    ``x2`` follows from ``x1``, or ``x1`` from ``x2`` where the line is closer to vertical, so that
    the division is never by a weight near zero; all-zero weights have no line (NaN points).
    """
    w1, w2 = w
    if abs(w2) >= abs(w1):
        if w2 == 0:
            return [np.nan, np.nan], [np.nan, np.nan]
        x1 = np.asarray(xlim)
        return x1, (-b - w1 * x1) / w2
    x2 = np.asarray(ylim)
    return (-b - w2 * x2) / w1, x2


def _recorded_coefs(recorder, size, caller):
    """Return a recorder's weights as an array (n_epochs, size)."""
    if not isinstance(recorder, WeightRecorder):
        raise ValueError(f"{caller} takes the WeightRecorder a fit ran with as its callback, got "
                         f"{type(recorder).__name__}.")
    if not recorder.coefs:
        raise ValueError(f"{caller} got an empty WeightRecorder: pass it as the estimator's "
                         "callback= and fit before plotting.")
    coefs = np.array([np.ravel(coef) for coef in recorder.coefs])
    if coefs.shape[1] != size:
        raise ValueError(f"{caller}: the recorder holds {coefs.shape[1]} weight(s) per epoch but "
                         f"the estimator has {size}; record a fit of this estimator on this data.")
    return coefs


def _span(points):
    """Corners ``(lo, hi)`` of a box around all the points, with a margin on every side."""
    points = np.vstack(points)
    lo, hi = points.min(axis=0), points.max(axis=0)
    margin = np.where(hi > lo, 0.25 * (hi - lo), 0.5 * np.maximum(1.0, np.abs(lo)))
    return lo - margin, hi + margin
