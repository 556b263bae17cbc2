"""fastgd: gradient-descent training at the speed of the hardware, with NumPy references beside
every compiled kernel."""

from ._driver import DivergenceError
from ._kernels.optim import NAMES as _OPTIMIZER_CODES
from .linear import GDClassifier, GDRegressor
from .mlp import MLPClassifier, MLPRegressor

#: The optimizers every trainer accepts as ``optimizer=``.
OPTIMIZERS = tuple(_OPTIMIZER_CODES)

__all__ = ["DivergenceError", "GDClassifier", "GDRegressor", "MLPClassifier", "MLPRegressor",
           "OPTIMIZERS"]
__version__ = "0.1.0"
