"""seqmix.compile and the Kernel it returns."""
import ctypes
import json
import os
import pathlib

from . import _cache
from ._capi import SeqmixTensor, compiler, find_library, runtime, take_error
from ._errors import SeqmixError

# Options `compile` takes, and the C API's names for them.
OPTIONS = ("form", "chunk_size", "target_cpu", "threading", "workers",
           "schedule", "cost_model", "bf16_dot")
PHASES = ("import", "select-forms", "lower-forms", "schedule", "bufferize",
          "llvm")


def _spec_source(spec):
    """(text, source name) of a spec given as a dict, JSON text or a path."""
    if isinstance(spec, dict):
        try:
            return json.dumps(spec, indent=1), "<dict>"
        except (TypeError, ValueError) as e:
            raise SeqmixError(f"spec: the dict is not JSON: {e}") from None
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        if s.lstrip().startswith("{"):
            return s, "<spec>"
        try:
            return pathlib.Path(s).read_text(), s
        except OSError as e:
            raise SeqmixError(f"spec: cannot read '{s}': {e.strerror}") from None
    raise SeqmixError("spec: expected a dict, JSON text or a path, got "
                      f"{type(spec).__name__}")


def _check_options(overrides):
    opts = {}
    for name, value in overrides.items():
        if name not in OPTIONS:
            raise SeqmixError(f"unknown option '{name}'; compile takes "
                              + ", ".join(OPTIONS))
        if value is None:
            continue
        if name in ("chunk_size", "workers"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SeqmixError(f"option '{name}': expected an int, got "
                                  f"{value!r}")
            value = int(value)
        elif name in ("schedule", "cost_model"):
            value = os.fspath(value)
        elif not isinstance(value, str):
            raise SeqmixError(f"option '{name}': expected a string, got "
                              f"{value!r}")
        opts[name] = value
    return opts


def _status_error(lib, status, what):
    """A SeqmixError from a failed status (and frees the status)."""
    diags = []
    for i in range(lib.seqmix_status_num_diagnostics(status)):
        diags.append((lib.seqmix_status_severity(status, i).decode(),
                      lib.seqmix_status_location(status, i).decode(),
                      lib.seqmix_status_message(status, i).decode(
                          errors="replace")))
    text = lib.seqmix_status_text(status).decode(errors="replace").strip()
    lib.seqmix_status_destroy(status)
    return SeqmixError(f"{what}:\n{text}" if text else what, diags)


class _Options:
    def __init__(self, opts):
        lib = compiler()
        self.lib, self.ptr = lib, lib.seqmix_compile_options_create()
        for name, value in opts.items():
            if lib.seqmix_compile_options_set(self.ptr, name.encode(),
                                              str(value).encode()):
                raise SeqmixError(f"option '{name}': bad value {value!r}")

    def __enter__(self):
        return self.ptr

    def __exit__(self, *exc):
        self.lib.seqmix_compile_options_destroy(self.ptr)


def _compile_so(text, source, opts, path):
    lib = compiler()
    data = text.encode()
    with _Options(opts) as o:
        st = lib.seqmix_compile_to_file(data, len(data), source.encode(), o,
                                        b"so", os.fspath(path).encode())
    if not lib.seqmix_status_ok(st):
        raise _status_error(lib, st, f"cannot compile {source}")
    lib.seqmix_status_destroy(st)


def _compile_text(text, source, opts, phase, emit):
    lib = compiler()
    data = text.encode()
    out, size = ctypes.c_void_p(), ctypes.c_size_t()
    with _Options(opts) as o:
        st = lib.seqmix_compile_to_buffer(
            data, len(data), source.encode(), o,
            phase.encode() if phase else None, emit.encode(),
            ctypes.byref(out), ctypes.byref(size))
    if not lib.seqmix_status_ok(st):
        raise _status_error(lib, st, f"cannot compile {source}")
    lib.seqmix_status_destroy(st)
    result = ctypes.string_at(out, size.value).decode(errors="replace")
    lib.seqmix_free_buffer(out)
    return result


def _compiler_id():
    """The compiler's identity for the cache key, without loading it."""
    from . import __version__
    p = find_library("libseqmix_compiler.so")
    st = p.stat()
    return f"{__version__}|{p}|{st.st_size}|{st.st_mtime_ns}"


def compile(spec, *, cache=True, cache_dir=None, **overrides):  # noqa: A001
    """Compiles a layer spec (a dict, JSON text or a path to a .json file)
    for this machine's CPU and returns a Kernel.

    Overrides (seqmixc's flags): form ("auto", "parallel", "chunked",
    "recurrent"), chunk_size, target_cpu ("host" or an LLVM CPU name),
    threading ("openmp" or "none"), workers, schedule (a transform script),
    cost_model (a cost table), bf16_dot ("auto", "on", "off"). The
    compiled layer is cached on disk (see
    seqmix.cache_dir()); cache=False compiles afresh into a temporary file.
    Raises SeqmixError with every diagnostic (and its location in the spec)
    when the spec or an option is bad."""
    text, source = _spec_source(spec)
    opts = _check_options(overrides)
    if not cache:
        import tempfile
        d = tempfile.mkdtemp(prefix="seqmix-")
        path = pathlib.Path(d) / "layer.so"
        _compile_so(text, source, opts, path)
        try:
            return Kernel(path, text, source, opts, cached=False)
        finally:
            os.unlink(path)
            os.rmdir(d)
    key = _cache.make_key(_compiler_id(), text, opts)
    so = _cache.lookup(key, cache_dir)
    if so is not None:
        try:
            return Kernel(so, text, source, opts, cached=True)
        except SeqmixError:
            pass  # loadable once, not now: rebuild it
    info = {"source": source, "options": opts,
            "compiler": compiler().seqmix_compiler_version().decode()}
    so = _cache.store(key, lambda p: _compile_so(text, source, opts, p), info,
                      cache_dir)
    return Kernel(so, text, source, opts, cached=False)


# The runtime's element type names, as torch and numpy name them.
_DTYPES = {"f32": "float32", "bf16": "bfloat16", "f16": "float16",
           "complex64": "complex64"}


def _np_dtype(name):
    """numpy's dtype for an argument's dtype name; bfloat16 comes from
    ml_dtypes (which JAX installs)."""
    import numpy as np
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise SeqmixError("this kernel takes bfloat16 arrays: numpy has "
                              "them with the ml_dtypes package (pip install "
                              "ml_dtypes), or pass torch tensors") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


class Arg:
    """One argument of a kernel: name, whether it is an output, dtype
    ("float32" or "complex64") and dims as (name, size) pairs, size None
    when it is given at each call."""

    def __init__(self, name, output, dtype, dims):
        self.name, self.output, self.dtype, self.dims = (name, output, dtype,
                                                         tuple(dims))

    def __repr__(self):
        dims = ", ".join(f"{n}={s if s is not None else '?'}"
                         for n, s in self.dims)
        return (f"Arg({'out' if self.output else 'in'} {self.name}: "
                f"{self.dtype}[{dims}])")


def _kind(x):
    mod = type(x).__module__.split(".")[0]
    if mod == "numpy":
        return "numpy"
    if mod == "torch":
        return "torch"
    if mod in ("jax", "jaxlib"):
        return "jax"
    if hasattr(x, "__dlpack__"):
        return "dlpack"
    return None


class Kernel:
    """A compiled layer. A CPU layer takes numpy arrays, PyTorch tensors,
    JAX arrays or any __dlpack__ object in host memory; a cuda layer takes
    PyTorch CUDA tensors on cuda:0 (JAX and __dlpack__ arrays in GPU memory
    through torch.from_dlpack, without a copy), and runs on torch's current
    stream."""

    def __init__(self, so_path, spec_text, source, options, cached):
        rt = runtime()
        err = ctypes.c_void_p()
        layer = rt.seqmix_layer_load(os.fspath(so_path).encode(),
                                     ctypes.byref(err))
        if not layer:
            raise SeqmixError(f"cannot load {so_path}: "
                              + take_error(err.value))
        self._rt, self._layer = rt, layer
        self._spec_text, self._source, self._options = (spec_text, source,
                                                        options)
        self.cached = cached
        self.name = rt.seqmix_layer_name(layer).decode()
        self.metadata = rt.seqmix_layer_metadata(layer).decode()
        self.forms = rt.seqmix_layer_forms(layer).decode()
        self.cost_lines = [
            rt.seqmix_layer_cost_line(layer, i).decode()
            for i in range(rt.seqmix_layer_num_cost_lines(layer))]
        self.cost_model = rt.seqmix_layer_cost_model(layer).decode()
        # "cpu", or "cuda" (its tensors are GPU memory).
        self.target = rt.seqmix_layer_target(layer).decode()
        args = []
        for i in range(rt.seqmix_layer_num_args(layer)):
            dims = []
            for d in range(rt.seqmix_layer_arg_ndim(layer, i)):
                size = rt.seqmix_layer_arg_dim(layer, i, d)
                dims.append((rt.seqmix_layer_arg_dim_name(layer, i, d).decode(),
                             None if size < 0 else size))
            dtype = rt.seqmix_layer_arg_dtype(layer, i).decode()
            args.append(Arg(rt.seqmix_layer_arg_name(layer, i).decode(),
                            bool(rt.seqmix_layer_arg_is_output(layer, i)),
                            _DTYPES.get(dtype, dtype), dims))
        self.signature = tuple(args)
        self.inputs = tuple(a for a in args if not a.output)
        self.outputs = tuple(a for a in args if a.output)
        n = len(args)
        self._tensors = (SeqmixTensor * n)()
        self._zero_states = {}
        self._shape_arrays = {}

    def __del__(self):
        layer = getattr(self, "_layer", None)
        if layer:
            self._rt.seqmix_layer_free(layer)
            self._layer = None

    def __repr__(self):
        return f"<seqmix.Kernel {self.name}: {self.forms or '?'}>"

    def ir(self, phase="import"):
        """The layer's IR after `phase` (import, select-forms, lower-forms,
        schedule, bufferize, llvm), compiled again with the same options."""
        if phase not in PHASES:
            raise SeqmixError(f"phase must be one of {', '.join(PHASES)}, "
                              f"got {phase!r}")
        return _compile_text(self._spec_text, self._source, self._options,
                             phase, "mlir")

    # -- calling -----------------------------------------------------------

    def __call__(self, *args, initial_state=None, out=None, **named):
        given = self._bind_inputs(args, initial_state, named)
        kind = _kind(given[self.inputs[0].name])
        arrays, sizes = {}, {}
        for a in self.inputs:
            arrays[a.name] = self._as_input(a, given.get(a.name), sizes)
        outs = self._outputs(out, kind, sizes, arrays)
        if self.target == "cuda":
            self._use_current_stream()
        self._call(arrays, outs)
        results = [outs[a.name][1] for a in self.outputs]
        return results[0] if len(results) == 1 else tuple(results)

    def _bind_inputs(self, args, initial_state, named):
        names = [a.name for a in self.inputs]
        positional = [n for n in names if n != "initial_state"]
        if len(args) > len(positional):
            raise SeqmixError(
                f"{self.name} takes {len(positional)} positional inputs "
                f"({', '.join(positional)}), got {len(args)}")
        given = dict(zip(positional, args))
        for n, v in named.items():
            if n not in names or n == "initial_state":
                raise SeqmixError(f"{self.name} has no input '{n}'; its "
                                  f"inputs are {', '.join(positional)}")
            if n in given:
                raise SeqmixError(f"input '{n}' given twice")
            given[n] = v
        if initial_state is not None:
            if "initial_state" not in names:
                raise SeqmixError(
                    f"{self.name} takes no initial state (its spec has no "
                    "\"state\": {\"initial\": true})")
            given["initial_state"] = initial_state
        missing = [n for n in positional if n not in given]
        if missing:
            raise SeqmixError(f"{self.name}: missing input(s) "
                              + ", ".join(missing))
        return given

    def _bind_dims(self, arg, shape, sizes, what):
        if len(shape) != len(arg.dims):
            raise SeqmixError(
                f"{what} '{arg.name}': expected {len(arg.dims)} dimensions "
                f"({', '.join(n for n, _ in arg.dims)}), got shape "
                f"{tuple(shape)}")
        for d, ((name, static), n) in enumerate(zip(arg.dims, shape)):
            if static is not None and n != static:
                raise SeqmixError(
                    f"{what} '{arg.name}': dimension {d} ({name}) must be "
                    f"{static}, got {n} (shape {tuple(shape)})")
            if static is None:
                if name in sizes and sizes[name][0] != n:
                    raise SeqmixError(
                        f"{what} '{arg.name}': dimension {d} ({name}) is {n}, "
                        f"but '{sizes[name][1]}' has {name} = "
                        f"{sizes[name][0]}")
                sizes.setdefault(name, (n, arg.name))

    def _check_device(self, x, what):
        """That the torch tensor `x` is where the layer runs: the CPU, or
        for a cuda layer cuda:0 (the device the runtime uses)."""
        if self.target != "cuda":
            if x.device.type != "cpu":
                raise SeqmixError(f"{what}: the tensor is on {x.device}; "
                                  "this kernel was compiled for the CPU")
            return
        if x.device.type != "cuda":
            raise SeqmixError(
                f"{what}: the tensor is on {x.device}; this kernel was "
                "compiled for the cuda target and takes CUDA tensors (move "
                "it with .cuda())")
        index = x.device.index if x.device.index is not None else 0
        if index != 0:
            raise SeqmixError(
                f"{what}: the tensor is on {x.device}; seqmix's CUDA "
                "runtime runs on device 0 (cuda:0)")

    def _cuda_from_dlpack(self, arg, x, kind):
        """A JAX or __dlpack__ array in GPU memory as a torch CUDA tensor on
        the same memory (torch.from_dlpack, no copy); host memory is an
        error."""
        dev = getattr(x, "__dlpack_device__", None)
        if kind == "numpy" or dev is None or dev()[0] != 2:
            raise SeqmixError(
                f"input '{arg.name}': this kernel was compiled for the cuda "
                f"target and takes CUDA tensors or arrays (PyTorch, or JAX "
                f"and __dlpack__ arrays in GPU memory), got a {kind} array in "
                "host memory")
        try:
            import torch
        except ImportError:
            raise SeqmixError(
                f"input '{arg.name}': a {kind} array in GPU memory goes "
                "through PyTorch (torch.from_dlpack), which is not "
                "installed") from None
        return torch.from_dlpack(x)

    def _use_current_stream(self):
        """Launches the cuda layer's calls on torch's current stream of
        cuda:0, so that they are ordered with the torch work around them."""
        try:
            import torch
            stream = torch.cuda.current_stream(0).cuda_stream
        except Exception:  # no torch, or torch without CUDA
            stream = None
        err = ctypes.c_void_p()
        if self._rt.seqmix_layer_set_stream(self._layer,
                                            ctypes.c_void_p(stream),
                                            ctypes.byref(err)):
            raise SeqmixError(f"{self.name}: " + take_error(err.value))

    def _as_input(self, arg, x, sizes):
        """(pointer-holder, shape) of an input, copied to row-major
        float32-contiguous form if its layout is another."""
        if x is None and arg.name == "initial_state":
            return None
        kind = _kind(x)
        if kind is None:
            raise SeqmixError(
                f"input '{arg.name}': expected a numpy array, a torch "
                f"tensor, a JAX array or a __dlpack__ object, got "
                f"{type(x).__name__}")
        if self.target == "cuda" and kind != "torch":
            x = self._cuda_from_dlpack(arg, x, kind)
            kind = "torch"
        if kind == "torch":
            self._check_device(x, f"input '{arg.name}'")
            if str(x.dtype) != "torch." + arg.dtype:
                raise SeqmixError(f"input '{arg.name}': expected dtype "
                                  f"{arg.dtype}, got {str(x.dtype)[6:]}")
            self._bind_dims(arg, tuple(x.shape), sizes, "input")
            x = x.detach()
            if not x.is_contiguous():
                x = x.contiguous()
            return (x, x.data_ptr())
        import numpy as np
        if kind in ("jax", "dlpack"):
            dev = getattr(x, "__dlpack_device__", None)
            if dev is not None and dev()[0] != 1:
                raise SeqmixError(
                    f"input '{arg.name}': the array is on DLPack device "
                    f"type {dev()[0]}; this kernel was compiled for the CPU")
            try:
                x = np.from_dlpack(x)
            except (TypeError, RuntimeError, BufferError) as e:
                # numpy's DLPack has no bfloat16; a JAX array converts
                # through its own __array__ (ml_dtypes' bfloat16).
                if kind != "jax":
                    raise SeqmixError(f"input '{arg.name}': cannot take it "
                                      f"through DLPack: {e}") from None
                x = np.asarray(x)
        if x.dtype != _np_dtype(arg.dtype):
            raise SeqmixError(f"input '{arg.name}': expected dtype "
                              f"{arg.dtype}, got {x.dtype}")
        self._bind_dims(arg, x.shape, sizes, "input")
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        return (x, x.ctypes.data)

    def _outputs(self, out, kind, sizes, arrays):
        """name -> (holder, returned object, pointer) of every output."""
        for a in self.inputs:
            if arrays.get(a.name) is None and a.name == "initial_state":
                shape = tuple(sizes[n][0] if s is None else s
                              for n, s in a.dims)
                arrays[a.name] = self._zeros(kind, shape, a.dtype)
        given = {}
        if out is not None:
            if isinstance(out, dict):
                given = dict(out)
            elif isinstance(out, (tuple, list)):
                if len(out) != len(self.outputs):
                    raise SeqmixError(
                        f"out: {self.name} has {len(self.outputs)} outputs "
                        f"({', '.join(a.name for a in self.outputs)}), got "
                        f"{len(out)}")
                given = dict(zip((a.name for a in self.outputs), out))
            else:
                given = {self.outputs[0].name: out}
            for n in given:
                if n not in [a.name for a in self.outputs]:
                    raise SeqmixError(f"out: {self.name} has no output '{n}'")
        result = {}
        for a in self.outputs:
            shape = []
            for n, s in a.dims:
                if s is None and n not in sizes:
                    raise SeqmixError(f"output '{a.name}': its {n} is given by "
                                      "no input")
                shape.append(s if s is not None else sizes[n][0])
            shape = tuple(shape)
            if a.name in given and given[a.name] is not None:
                result[a.name] = self._as_output(a, given[a.name], shape, kind)
            else:
                holder = self._empty(kind, shape, a.dtype)
                result[a.name] = holder
        return result

    def _as_output(self, arg, x, shape, kind):
        k = _kind(x)
        what = f"output '{arg.name}'"
        if self.target == "cuda" and k != "torch":
            raise SeqmixError(f"{what}: this kernel was compiled for the cuda "
                              "target; out= takes a PyTorch CUDA tensor, got "
                              f"{type(x).__name__}")
        if k == "torch":
            self._check_device(x, what)
            if str(x.dtype) != "torch." + arg.dtype:
                raise SeqmixError(f"{what}: expected dtype {arg.dtype}, got "
                                  f"{str(x.dtype)[6:]}")
            if tuple(x.shape) != shape:
                raise SeqmixError(f"{what}: expected shape {shape}, got "
                                  f"{tuple(x.shape)}")
            if not x.is_contiguous():
                raise SeqmixError(f"{what}: out= must be contiguous (a copy "
                                  "would not be written back)")
            return (x, x, x.data_ptr())
        if k == "numpy":
            import numpy as np
            if x.dtype != _np_dtype(arg.dtype):
                raise SeqmixError(f"{what}: expected dtype {arg.dtype}, got "
                                  f"{x.dtype}")
            if x.shape != shape:
                raise SeqmixError(f"{what}: expected shape {shape}, got "
                                  f"{x.shape}")
            if not x.flags.c_contiguous or not x.flags.writeable:
                raise SeqmixError(f"{what}: out= must be a writeable "
                                  "C-contiguous array")
            return (x, x, x.ctypes.data)
        raise SeqmixError(f"{what}: out= takes a numpy array or a torch "
                          f"tensor (JAX arrays are immutable), got "
                          f"{type(x).__name__}")

    def _device(self):
        return "cuda:0" if self.target == "cuda" else "cpu"

    def _empty(self, kind, shape, dtype):
        if kind == "torch" or self.target == "cuda":
            import torch
            t = torch.empty(shape, dtype=getattr(torch, dtype),
                            device=self._device())
            # A JAX caller gets a JAX array on the same GPU memory.
            ret = _JaxFromTorch(t) if kind == "jax" else t
            return (t, ret, t.data_ptr())
        import numpy as np
        if kind == "jax":
            # JAX takes numpy memory through DLPack without a copy only
            # when it is 64-byte aligned.
            n = int(np.prod(shape)) * _np_dtype(dtype).itemsize
            buf = np.empty(n + 64, np.uint8)
            off = (-buf.ctypes.data) % 64
            a = buf[off:off + n].view(_np_dtype(dtype)).reshape(shape)
            return (a, _JaxResult(a), a.ctypes.data)
        a = np.empty(shape, dtype=_np_dtype(dtype))
        return (a, a, a.ctypes.data)

    def _zeros(self, kind, shape, dtype):
        """A zero initial state, kept for the next call of that shape: the
        layer only reads it, and it is never handed out."""
        on_torch = kind == "torch" or self.target == "cuda"
        key = (on_torch, shape, dtype)
        zeros = self._zero_states.get(key)
        if zeros is None:
            if on_torch:
                import torch
                t = torch.zeros(shape, dtype=getattr(torch, dtype),
                                device=self._device())
                zeros = (t, t.data_ptr())
            else:
                import numpy as np
                a = np.zeros(shape, dtype=_np_dtype(dtype))
                zeros = (a, a.ctypes.data)
            if len(self._zero_states) >= 4:
                self._zero_states.clear()
            self._zero_states[key] = zeros
        return zeros

    def _call(self, arrays, outs):
        keep = []
        for i, a in enumerate(self.signature):
            if a.output:
                holder, _, ptr = outs[a.name]
                shape = holder.shape
            else:
                holder, ptr = arrays[a.name]
                shape = holder.shape
            shape = tuple(shape)
            dims = self._shape_arrays.get(shape)
            if dims is None:
                if len(self._shape_arrays) >= 64:
                    self._shape_arrays.clear()
                dims = (ctypes.c_int64 * len(shape))(*shape)
                self._shape_arrays[shape] = dims
            keep.append(dims)
            t = self._tensors[i]
            t.data, t.ndim, t.shape, t.strides = ptr, len(shape), dims, None
        err = ctypes.c_void_p()
        if self._rt.seqmix_layer_call(self._layer, self._tensors,
                                      len(self.signature), ctypes.byref(err)):
            raise SeqmixError(f"{self.name}: " + take_error(err.value))
        for a in self.outputs:
            ret = outs[a.name][1]
            if isinstance(ret, (_JaxResult, _JaxFromTorch)):
                outs[a.name] = (None, ret.convert(), None)


class _JaxFromTorch:
    """A cuda layer's output, a torch CUDA tensor, handed to JAX on the same
    memory (DLPack) after the call."""

    def __init__(self, tensor):
        self.tensor = tensor

    def convert(self):
        import jax
        return jax.dlpack.from_dlpack(self.tensor)


class _JaxResult:
    """An output computed into numpy memory, handed to JAX afterwards."""

    def __init__(self, array):
        self.array = array

    def convert(self):
        import jax
        if self.array.dtype.name == "bfloat16":
            # DLPack has no bfloat16 for numpy: a copy.
            return jax.numpy.asarray(self.array)
        return jax.dlpack.from_dlpack(self.array)


__all__ = ["compile", "Kernel", "Arg", "SeqmixError"]
