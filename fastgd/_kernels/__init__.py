"""Compiled kernels and their NumPy references.

Each kernel module keeps an ``@njit`` loop kernel (name starts with ``_``) beside a short NumPy twin
(the same name without the underscore) that the tests hold it to.
"""
