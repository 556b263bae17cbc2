"""Compiled kernels and their NumPy references.

Each kernel module keeps an ``@njit`` loop kernel (name starts with ``_``) beside a short NumPy twin
(the same name without the underscore) that the tests hold it to.
"""

from typing import NamedTuple


def entry_type(module, name, fields, doc, **attributes):
    """A named tuple class of ``fields`` for one entry of a kernel module's table (a loss, an
    optimizer), with the class ``attributes`` (its code): a numba type of its own, so that a kernel
    compiles for each entry it is called with, and that entry only. Registered as ``name`` in
    ``module`` (a module's ``globals()``), where pickle and numba's cache find it again."""
    cls = NamedTuple(name, fields)
    cls.__module__, cls.__qualname__, cls.__doc__ = module["__name__"], name, doc
    for key, value in attributes.items():
        setattr(cls, key, value)
    module[name] = cls
    return cls
