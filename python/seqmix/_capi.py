"""ctypes bindings of seqmix's C API (include/seqmix-c/*.h).

Two libraries: libseqmix_runtime.so (loads and calls compiled layers; no
MLIR) is loaded on first use; libseqmix_compiler.so (links MLIR and LLVM, a
slower load) only when something has to be compiled.
"""
import ctypes
import os
import pathlib

from ._errors import SeqmixError

_HERE = pathlib.Path(__file__).resolve().parent


def library_dirs():
    """Where the libraries are looked for, in order: $SEQMIX_LIB_DIR, the
    build tree of the checkout this package sits in (<repo>/build/lib), the
    package's own _lib/ (a pip-installed copy, `make python-package`)."""
    dirs = []
    env = os.environ.get("SEQMIX_LIB_DIR")
    if env:
        dirs.append(pathlib.Path(env))
    dirs.append(_HERE.parent.parent / "build" / "lib")
    dirs.append(_HERE / "_lib")
    return dirs


def find_library(name):
    for d in library_dirs():
        p = d / name
        if p.is_file():
            return p
    raise SeqmixError(
        f"cannot find {name}: looked in "
        + ", ".join(str(d) for d in library_dirs())
        + ". Build seqmix (make) or set SEQMIX_LIB_DIR to the directory "
        "that holds it.")


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice),
                ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    pass


DLManagedTensor._fields_ = [
    ("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
    ("deleter", ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor)))]


class SeqmixTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64))]


_c = ctypes
_runtime = None
_compiler = None


def _sig(lib, name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


def runtime():
    global _runtime
    if _runtime is None:
        lib = ctypes.CDLL(str(find_library("libseqmix_runtime.so")))
        vp, cp, i32, i64 = _c.c_void_p, _c.c_char_p, _c.c_int32, _c.c_int64
        err = _c.POINTER(_c.c_void_p)
        _sig(lib, "seqmix_layer_load", vp, cp, err)
        _sig(lib, "seqmix_layer_free", None, vp)
        _sig(lib, "seqmix_layer_metadata", cp, vp)
        _sig(lib, "seqmix_layer_name", cp, vp)
        _sig(lib, "seqmix_layer_num_args", i32, vp)
        _sig(lib, "seqmix_layer_arg_name", cp, vp, i32)
        _sig(lib, "seqmix_layer_arg_is_output", i32, vp, i32)
        _sig(lib, "seqmix_layer_arg_dtype", cp, vp, i32)
        _sig(lib, "seqmix_layer_arg_ndim", i32, vp, i32)
        _sig(lib, "seqmix_layer_arg_dim", i64, vp, i32, i32)
        _sig(lib, "seqmix_layer_arg_dim_name", cp, vp, i32, i32)
        _sig(lib, "seqmix_layer_dim_limit", i64, vp, cp)
        _sig(lib, "seqmix_layer_forms", cp, vp)
        _sig(lib, "seqmix_layer_num_cost_lines", i32, vp)
        _sig(lib, "seqmix_layer_cost_line", cp, vp, i32)
        _sig(lib, "seqmix_layer_cost_model", cp, vp)
        _sig(lib, "seqmix_layer_target", cp, vp)
        _sig(lib, "seqmix_layer_call", i32, vp, _c.POINTER(SeqmixTensor),
             i32, err)
        _sig(lib, "seqmix_layer_call_dlpack", i32, vp,
             _c.POINTER(_c.POINTER(DLTensor)), i32, err)
        _sig(lib, "seqmix_free_error", None, vp)
        _runtime = lib
    return _runtime


def compiler():
    global _compiler
    if _compiler is None:
        lib = ctypes.CDLL(str(find_library("libseqmix_compiler.so")))
        vp, cp, i32, sz = _c.c_void_p, _c.c_char_p, _c.c_int32, _c.c_size_t
        _sig(lib, "seqmix_compiler_version", cp)
        _sig(lib, "seqmix_compile_options_create", vp)
        _sig(lib, "seqmix_compile_options_destroy", None, vp)
        _sig(lib, "seqmix_compile_options_set", i32, vp, cp, cp)
        _sig(lib, "seqmix_status_ok", i32, vp)
        _sig(lib, "seqmix_status_num_diagnostics", i32, vp)
        _sig(lib, "seqmix_status_severity", cp, vp, i32)
        _sig(lib, "seqmix_status_message", cp, vp, i32)
        _sig(lib, "seqmix_status_location", cp, vp, i32)
        _sig(lib, "seqmix_status_text", cp, vp)
        _sig(lib, "seqmix_status_destroy", None, vp)
        _sig(lib, "seqmix_compile_to_file", vp, cp, sz, cp, vp, cp, cp)
        _sig(lib, "seqmix_compile_to_buffer", vp, cp, sz, cp, vp, cp, cp,
             _c.POINTER(_c.c_void_p), _c.POINTER(sz))
        _sig(lib, "seqmix_free_buffer", None, vp)
        _compiler = lib
    return _compiler


def take_error(ptr):
    """The message of a C error string (and frees it)."""
    if not ptr:
        return "unknown error"
    msg = ctypes.cast(ptr, ctypes.c_char_p).value.decode(errors="replace")
    runtime().seqmix_free_error(ptr)
    return msg
