"""Compiled kernels shipped inside the package: a first fit from an installed wheel loads them
instead of compiling.

Building the wheel runs :mod:`fastgd._prebuilt.build`, which fits the configurations users reach
and saves every kernel those fits compile into this package's folder, in numba's own cache format,
once per target of :data:`TARGETS` (a folder each, one folder per module inside it, and
``built.json`` saying what was built with what). At run time each kernel looks first in the folder
of the best target this CPU runs (:data:`TARGET`), under the target it was built for, then
in numba's usual cache, where it also saves what it compiles (:class:`TwoLevelCache`): the
package's folder is only ever read, so a read-only install works.

numba's cache keys an entry by the kernel's signature, its bytecode, the source file's content
(its hash) and the target, and its index by numba's version and Python's: another numba, Python,
source or machine architecture finds no entry, a miss, and the kernel compiles as it would
without this (so does a truncated or unreadable file: the lookup fails safe).
``FASTGD_PREBUILT=0`` turns the lookup off. This rests on numba's private cache classes
(``numba.core.caching``): should they change, the kernels keep numba's own cache (``config``).
"""

import os
import warnings
from pathlib import Path

import llvmlite.binding as llvm
from numba.core import caching

#: The folder the wheel's kernels are in.
PACKAGE_DIR = Path(__file__).resolve().parent
#: What the build wrote there: the numba and Python versions, the targets, the configurations.
MANIFEST = "built.json"
#: numba's CPU names of the kernels built, each with the CPU features it needs (LLVM's names):
#: x86-64-v3 (AVX2 and FMA: every x86-64 CPU since 2013-2015) vectorises the loops twice as wide as
#: the baseline, which every x86-64 CPU runs.
TARGETS = {
    "x86-64-v3": ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave",
                  "cx16", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3"),
    "generic": (),
}
#: Set by ``fastgd._prebuilt.build``: the folder to compile the kernels into, for the CPU that
#: ``NUMBA_CPU_NAME`` names, instead of looking them up.
BUILD_DIR = os.environ.get("FASTGD_PREBUILD_INTO")


def runs_on_this_cpu(target):
    """Whether this CPU has every feature the code of ``target`` (of :data:`TARGETS`) uses."""
    features = llvm.get_host_cpu_features()
    return all(features.get(feature, False) for feature in TARGETS[target])


def _target():
    """The target whose kernels this process loads: the first of :data:`TARGETS` that the package
    holds and this CPU runs (None: none), or, while building, the one being built."""
    if BUILD_DIR:
        return os.environ["NUMBA_CPU_NAME"]
    return next((name for name in TARGETS
                 if (PACKAGE_DIR / name).is_dir() and runs_on_this_cpu(name)), None)


TARGET = _target()


class _PackageLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """The kernels of the source file ``py_file`` in the package's prebuilt folder (or the
    build's), freshness stamped by the file's content as numba's own locators are."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        root = Path(BUILD_DIR) if BUILD_DIR else PACKAGE_DIR / TARGET
        self._cache_path = str(root / py_func.__module__)

    def ensure_cache_path(self):
        if BUILD_DIR:
            os.makedirs(self._cache_path, exist_ok=True)

    def get_cache_path(self):
        return self._cache_path

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        return cls(py_func, py_file) if os.path.exists(py_file) else None


class _PackageImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_PackageLocator]


class PackageCache(caching.FunctionCache):
    """numba's function cache in the package's folder, keyed by the target the kernels there were
    built for rather than by this machine's CPU."""

    _impl_class = _PackageImpl

    def _index_key(self, sig, codegen):
        sig, (triple, _, _), hashes = super()._index_key(sig, codegen)
        return sig, (triple, TARGET, ""), hashes


class TwoLevelCache(caching._Cache):
    """The package's kernels first, then numba's usual cache (``user``, None where there is no
    writable place for it), which keeps what this machine compiles. While the wheel is built,
    the package's folder is the only level, and it is written."""

    def __init__(self, package, user):
        self._package, self._user = package, user

    @property
    def cache_path(self):
        return (self._user or self._package).cache_path

    def load_overload(self, sig, target_context):
        try:
            found = self._package.load_overload(sig, target_context)
        except Exception:  # a truncated or foreign file: a miss, compiled as without it
            found = None
        if found is None and self._user is not None:
            found = self._user.load_overload(sig, target_context)
        return found

    def save_overload(self, sig, data):
        if BUILD_DIR:
            self._package.save_overload(sig, data)
        elif self._user is not None:
            self._user.save_overload(sig, data)

    def _levels(self):
        return [cache for cache in (self._package, self._user) if cache is not None]

    def enable(self):
        for cache in self._levels():
            cache.enable()

    def disable(self):
        for cache in self._levels():
            cache.disable()

    def flush(self):
        if self._user is not None:
            self._user.flush()


def enabled():
    """Whether kernels are looked up in (or, in a build, compiled into) the package's folder."""
    return bool(BUILD_DIR) or (os.environ.get("FASTGD_PREBUILT", "1") != "0"
                               and TARGET is not None)


def attach(dispatcher):
    """Give the compiled function ``dispatcher`` the package's kernels as its first cache level;
    numba's cache of it, if it has one, stays the second."""
    if not enabled():
        return dispatcher
    try:
        package = PackageCache(dispatcher.py_func)
    except Exception as error:  # numba's private cache classes changed: numba's cache as it is
        warnings.warn(f"fastgd's prebuilt kernels are not used: {error!r}", RuntimeWarning)
        return dispatcher
    user = dispatcher._cache if isinstance(dispatcher._cache, caching.Cache) else None
    dispatcher._cache = TwoLevelCache(package, None if BUILD_DIR else user)
    return dispatcher
