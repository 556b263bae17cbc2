"""fastgd: gradient-descent training at the speed of the hardware, with NumPy references beside
every compiled kernel."""

from ._driver import DivergenceError
from .linear import GDClassifier, GDRegressor

__all__ = ["DivergenceError", "GDClassifier", "GDRegressor"]
__version__ = "0.1.0"
