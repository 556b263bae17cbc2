"""fastgd.plot: the recorder, each figure's content, the animation's frames, and bad input."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import PillowWriter
from PIL import Image
from sklearn.datasets import make_blobs

from fastgd import GDClassifier, GDRegressor
from fastgd.plot import (WeightRecorder, animate_decision_boundary, plot_decision_boundary,
                         plot_loss, plot_loss_landscape)

matplotlib.use("Agg")  # no window, whatever the machine's default backend

LINE_X = np.array([[-1.0], [0.0], [1.0], [2.0], [3.0], [4.0]])
LINE_Y = 2 * LINE_X[:, 0] - 1


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=200, n_features=2, centers=2, cluster_std=1.5, random_state=1)
    recorder = WeightRecorder()
    model = GDClassifier(learning_rate=0.01, epochs=4, batch_size=None, callback=recorder)
    return model.fit(X, y), X, y, recorder


def fit_line(epochs=20, **params):
    recorder = WeightRecorder()
    model = GDRegressor(learning_rate=0.01, epochs=epochs, batch_size=None, fit_intercept=False,
                        callback=recorder, **params)
    model.fit(LINE_X, LINE_Y, coef_init=[8.0], intercept_init=-1.0)
    return model, recorder


def test_recorder_keeps_every_epoch_and_never_stops_training():
    model, recorder = fit_line(epochs=20)
    assert model.n_iter_ == len(recorder) == 20
    assert recorder.epochs == list(range(20))
    np.testing.assert_array_equal(recorder.losses, model.loss_history_)
    np.testing.assert_array_equal(recorder.coefs[-1], model.coef_)
    # copies, each epoch its own weights: W falls monotonically from 8 towards 2
    assert np.all(np.diff(np.ravel(recorder.coefs)) < 0)
    assert all(intercept[0] == -1.0 for intercept in recorder.intercepts)


def test_decision_boundary_is_the_zero_score_line(blobs):
    model, X, y, _ = blobs
    fig = plot_decision_boundary(model, X, y)
    ax = fig.axes[0]
    x1, x2 = (np.asarray(v) for v in ax.lines[0].get_data())
    scores = np.column_stack([x1, x2]) @ model.coef_[0] + model.intercept_[0]
    np.testing.assert_allclose(scores, 0, atol=1e-9)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "class 0", "class 1", "decision boundary"]


def test_a_vertical_boundary_is_drawn(blobs):
    model, X, y, _ = blobs
    vertical = GDClassifier().fit(X, y)
    vertical.coef_, vertical.intercept_ = np.array([[2.0, 0.0]]), np.array([3.0])
    x1, _ = plot_decision_boundary(vertical, X, y).axes[0].lines[0].get_data()
    np.testing.assert_allclose(x1, -1.5)


def test_animation_has_one_frame_per_recorded_epoch(blobs, tmp_path):
    model, X, y, recorder = blobs
    animation = animate_decision_boundary(model, X, y, recorder)
    animation.save(tmp_path / "boundary.gif", writer=PillowWriter(fps=10), dpi=40)
    with Image.open(tmp_path / "boundary.gif") as gif:
        assert gif.n_frames == len(recorder) == 4


def test_loss_curves_of_several_runs_share_one_labelled_axis():
    runs = {f"batch size {b}": GDRegressor(learning_rate=0.01, epochs=8, batch_size=b,
                                           random_state=0).fit(LINE_X, LINE_Y) for b in (None, 2)}
    ax = plot_loss(runs).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(runs)
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), runs["batch size 2"].loss_history_)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "training loss"


def test_loss_axis_is_logarithmic_when_the_losses_span_decades():
    model, _ = fit_line(epochs=50)
    assert plot_loss(model).axes[0].get_yscale() == "log"
    assert plot_loss(model, log_scale=False).axes[0].get_yscale() == "linear"
    few, _ = fit_line(epochs=2)
    assert plot_loss(few).axes[0].get_yscale() == "linear"


def test_loss_against_one_weight_with_its_path():
    model, recorder = fit_line(epochs=20)
    fig = plot_loss_landscape(model, LINE_X, LINE_Y, recorder, coef_init=[8.0])
    ax = fig.axes[0]
    curve, path, start = ax.lines
    w, loss = curve.get_data()
    # b is held at -1, so the loss is (W - 2)^2 mean(x^2), zero at the line's slope
    np.testing.assert_allclose(loss, (w - 2) ** 2 * np.mean(LINE_X**2), rtol=1e-10, atol=1e-12)
    path_w, path_loss = path.get_data()
    np.testing.assert_array_equal(path_w, [8.0, *np.ravel(recorder.coefs)])
    # full batch: the loss at each epoch's weights is the next epoch's recorded loss
    np.testing.assert_allclose(path_loss[:-1], model.loss_history_, rtol=1e-10)
    assert "intercept held at -1" in fig.texts[0].get_text()


def test_contours_of_two_weights_with_a_panel_per_path():
    X = np.column_stack([LINE_X[:, 0], np.ones(6)])
    recorders = {}
    for name in ("sgd", "momentum", "adam"):
        recorders[name] = WeightRecorder()
        model = GDRegressor(optimizer=name, learning_rate=0.05, epochs=10, batch_size=None,
                            fit_intercept=False, callback=recorders[name])
        model.fit(X, LINE_Y, coef_init=[8.0, 2.0])
    fig = plot_loss_landscape(model, X, LINE_Y, recorders, coef_init=[8.0, 2.0],
                              weight_names=["W", "b"])
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(recorders)
    for ax, recorder in zip(panels, recorders.values()):
        w1, w2 = ax.lines[0].get_data()
        np.testing.assert_array_equal(np.column_stack([w1, w2])[1:], np.vstack(recorder.coefs))
    assert panels[0].get_xlabel() == "W" and panels[0].get_ylabel() == "b"
    assert any(ax.get_ylabel() == "training loss" for ax in fig.axes)  # the colour bar


def test_landscape_of_a_classifier_is_a_slice_at_its_intercept(blobs):
    model, X, y, recorder = blobs
    fig = plot_loss_landscape(model, X, y, recorder)
    assert f"intercept held at {model.intercept_[0]:.3g}" in fig.texts[0].get_text()
    w1, w2 = fig.axes[0].lines[0].get_data()
    assert len(w1) == len(recorder)  # no coef_init: the path starts after the first epoch


def three_class_model():
    X, y = make_blobs(n_samples=60, n_features=2, centers=3, random_state=0)
    return GDClassifier(epochs=2).fit(X, y), X, y


@pytest.mark.parametrize("call,match", [
    (lambda m, X, y, r: plot_decision_boundary(m, np.hstack([X, X]), y), "two features"),
    (lambda m, X, y, r: plot_decision_boundary(m, X, np.where(y == 0, 7, y)), "not fitted on"),
    (lambda m, X, y, r: plot_decision_boundary(GDClassifier(), X, y), "not fitted"),
    (lambda m, X, y, r: plot_decision_boundary(*three_class_model()), "3 classes"),
    (lambda m, X, y, r: plot_decision_boundary(GDRegressor().fit(X, y), X, y), "no classes_"),
    (lambda m, X, y, r: animate_decision_boundary(m, X, y, WeightRecorder()), "empty"),
    (lambda m, X, y, r: animate_decision_boundary(m, X, y, [np.zeros(2)]), "WeightRecorder"),
    (lambda m, X, y, r: plot_loss({}), "at least one"),
    (lambda m, X, y, r: plot_loss(GDRegressor()), "not fitted"),
    (lambda m, X, y, r: plot_loss(m, log_scale="yes"), "log_scale"),
    (lambda m, X, y, r: plot_loss_landscape(*three_class_model()), "one or two weights"),
    (lambda m, X, y, r: plot_loss_landscape(m, X, y, r, coef_init=[1.0]), "coef_init"),
    (lambda m, X, y, r: plot_loss_landscape(m, X, y, weight_names=["w"]), "weight_names"),
    (lambda m, X, y, r: plot_loss_landscape(m, X, y, fit_line()[1]), "holds 1 weight"),
])
def test_bad_input_is_refused(blobs, call, match):
    model, X, y, recorder = blobs
    with pytest.raises(ValueError, match=match):
        call(model, X, y, recorder)
