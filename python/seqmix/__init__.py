"""seqmix: compile sequence-mixing layers (attention, linear attention,
state-space scans) from a JSON spec to CPU code, and call them on numpy
arrays, PyTorch tensors or JAX arrays.

    import seqmix
    kernel = seqmix.compile("examples/gla.json", form="chunked")
    out = kernel(q, k, v, g)                 # numpy / torch / JAX, float32

See docs/python.md.
"""
from ._cache import cache_dir
from ._capi import library_dirs
from ._errors import SeqmixError
from ._kernel import Arg, Kernel, compile

__version__ = "0.1.0"

__all__ = ["compile", "Kernel", "Arg", "SeqmixError", "cache_dir",
           "library_dirs", "__version__"]
