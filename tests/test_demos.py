"""``fastgd demo NAME`` in-process: each demo prints what its tutorial prints and writes figures."""

import re

import matplotlib
import matplotlib.pyplot as plt
import pytest
from PIL import Image

from fastgd import OPTIMIZERS
from fastgd.cli import main

matplotlib.use("Agg")  # no window, whatever the machine's default backend


def run_demo(capsys, tmp_path, *argv):
    """Run a demo and return what it printed; check that it closed the figures it made."""
    figures = plt.get_fignums()
    assert main(["demo", *argv, "--out", str(tmp_path)]) == 0
    assert plt.get_fignums() == figures
    return capsys.readouterr().out


def assert_figures(tmp_path, names):
    """Each figure exists, is an image with something drawn on it, and nothing else was written."""
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
    for name in names:
        with Image.open(tmp_path / name) as image:
            assert image.width > 100 and image.height > 100
            darkest, lightest = image.convert("L").getextrema()
            assert darkest < lightest


def printed_losses(out):
    return {int(epoch): float(loss) for epoch, loss in re.findall(r"epoch +(\d+)  loss (\S+)", out)}


def test_blobs(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "blobs", "--epochs", "3", "--alpha", "0.05")
    assert list(printed_losses(out)) == [0, 1, 2]
    assert "precision" in out and "accuracy" in out
    assert re.search(r"accuracy\s+[01]\.\d\d\s+500", out)
    assert_figures(tmp_path, ["blobs_boundary.png", "blobs_loss.png", "blobs_boundary.gif"])
    with Image.open(tmp_path / "blobs_boundary.gif") as gif:
        assert gif.n_frames == 3


def test_blobs_passes_optimizer_batch_size_and_backend(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "blobs", "--epochs", "2", "--optimizer", "adam",
                   "--batch-size", "50", "--backend", "numpy")
    losses = printed_losses(out)
    assert list(losses) == [0, 1]
    # in batches, the epoch's loss averages losses taken after some updates: below log(2)
    assert losses[0] < 0.69


def test_linear_demos_offer_every_linear_backend_and_digits_the_mlp_ones():
    from fastgd import backends
    from fastgd.cli import build_parser

    def choices(demo):
        demo_parser = build_parser()._subparsers._group_actions[0].choices["demo"]
        action = next(a for a in demo_parser._subparsers._group_actions[0].choices[demo]._actions
                      if a.dest == "backend")
        return list(action.choices)

    assert choices("blobs") == list(backends.LINEAR)
    assert choices("optimizers") == list(backends.LINEAR)
    assert choices("digits") == list(backends.MLP)


def test_line(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "line")
    losses = printed_losses(out)
    assert list(losses) == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 49]
    assert losses[0] == 186.0 and losses[49] < 0.01
    assert "W = 2.025686" in out
    assert_figures(tmp_path, ["line_landscape.png", "line_loss.png"])


def test_linsys(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "linsys")
    losses = printed_losses(out)
    assert list(losses) == [*range(0, 10_000, 1000), 9999]
    assert losses[0] == pytest.approx(17 / 3)
    assert losses[9999] < 1e-5
    assert "np.linalg.solve(A, Y) = [0.714286 4.428571 7.      ]" in out
    assert_figures(tmp_path, ["linsys_loss.png"])


def test_optimizers(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "optimizers", "--epochs", "5")
    rows = re.findall(r"^(\w+) +[\d.]+ +\S+ +-?[\d.]+ +-?[\d.]+$", out, flags=re.MULTILINE)
    assert rows == list(OPTIMIZERS)
    assert_figures(tmp_path, ["optimizers_landscape.png", "optimizers_loss.png"])


def test_digits(capsys, tmp_path):
    out = run_demo(capsys, tmp_path, "digits")
    losses = printed_losses(out)
    assert losses[99] < losses[0] / 10
    accuracy = float(re.search(r"accuracy\s+([\d.]+)", out).group(1))
    assert accuracy >= 0.99
    assert_figures(tmp_path, ["digits_loss.png", "digits_predictions.png"])


@pytest.mark.parametrize("argv,message", [
    (["blobs", "--epochs", "0"], "must be greater than 0"),
    (["line", "--alpha", "fast"], "is not a float"),
    (["blobs", "--optimizer", "lbfgs"], "invalid choice"),
    (["optimizers", "--optimizer", "sgd"], "unrecognized arguments"),
    (["digits", "--batch-size", "-3"], "must be greater than 0"),
    # the digits demo trains an MLP, which has no local_sgd backend
    (["digits", "--backend", "local_sgd"], "invalid choice: 'local_sgd'"),
])
def test_bad_arguments_are_refused(capsys, tmp_path, argv, message):
    with pytest.raises(SystemExit):
        main(["demo", *argv, "--out", str(tmp_path)])
    assert message in capsys.readouterr().err
