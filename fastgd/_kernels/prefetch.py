"""A software prefetch, for rows of X visited in a shuffled order.

Sequential rows are fetched ahead by the hardware prefetcher; shuffled ones are not, and SGD, which
cannot start a row before the previous update is done, then waits for memory at every row (about 3x
longer per row on 100,000 x 32 float64 here). Asking for a row a few rows ahead hides that wait.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, X, row, col):
    """Hint that ``X[row, col]`` (2-D ``X``) will be read soon: LLVM's ``llvm.prefetch``, which
    never faults, so any in-bounds index is safe to pass. Returns nothing; it has no NumPy twin."""
    if not (isinstance(X, types.Array) and X.ndim == 2):
        return None

    def codegen(context, builder, signature, args):
        array_type, row_type, col_type = signature.args
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, args[1], row_type, types.intp),
                 context.cast(builder, args[2], col_type, types.intp)]
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, index,
                                           wraparound=False)
        _emit_prefetch(builder, pointer)
        return context.get_dummy_value()

    return types.void(X, row, col), codegen


@intrinsic
def prefetch_element(typingctx, a, i):
    """Hint that ``a[i]`` (1-D ``a``) will be read soon, as :func:`prefetch` does."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, args[1], index_type, types.intp)]
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, index,
                                           wraparound=False)
        _emit_prefetch(builder, pointer)
        return context.get_dummy_value()

    return types.void(a, i), codegen


def _emit_prefetch(builder, pointer):
    i32 = ir.IntType(32)
    byte_pointer = ir.IntType(8).as_pointer()  # one declaration for pointers to any element type
    pointer = builder.bitcast(pointer, byte_pointer)
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
        "llvm.prefetch.p0")
    # read (0), keep in all cache levels (3), data cache (1)
    builder.call(function, [pointer, i32(0), i32(3), i32(1)])
