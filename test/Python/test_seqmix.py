"""The Python package: numpy, torch and JAX inputs, state, out=, the
compile cache, errors, the torch custom op. Run by test/Python/pytest.test
(make test) with the project's venv."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import seqmix

# A small scalar-gated GLA layer with initial and final state.
SPEC = {
    "seqmix": 1, "name": "py_gla", "mixer": "gated_linear_attention",
    "gate": "scalar", "heads": 2, "key_dim": 32, "value_dim": 16,
    "scale": 1.0, "batch": "?", "seq_len": "?",
    "state": {"initial": True, "final": True},
}
B, H, K, V = 2, 2, 16, 8


def inputs(T, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((B, H, T, K), dtype=np.float32)
    k = rng.standard_normal((B, H, T, K), dtype=np.float32)
    v = rng.standard_normal((B, H, T, V), dtype=np.float32)
    g = (-0.2 * rng.random((B, H, T))).astype(np.float32)
    return q, k, v, g


def reference(q, k, v, g, s0=None):
    """The recurrence of FORMS.md 3.1 in float64: S_t = exp(g_t) S_{t-1} +
    k_t v_t^T, o_t = q_t S_t (scale 1)."""
    S = np.zeros((B, H, K, V)) if s0 is None else s0.astype(np.float64)
    out = np.zeros(v.shape)
    for t in range(q.shape[2]):
        S = np.exp(g[:, :, t])[..., None, None] * S + \
            k[:, :, t, :, None] * v[:, :, t, None, :]
        out[:, :, t] = np.einsum("bhk,bhkv->bhv", q[:, :, t], S)
    return out, S


def close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(b).max())


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def kernel(cache):
    return seqmix.compile(SPEC, cache_dir=cache)


def test_signature_forms_metadata_ir(kernel):
    assert [a.name for a in kernel.inputs] == ["q", "k", "v", "g",
                                                "initial_state"]
    assert [a.name for a in kernel.outputs] == ["out", "final_state"]
    assert kernel.inputs[0].dims == (("batch", None), ("heads", 2),
                                     ("seq_len", None), ("key_dim", 16))
    assert kernel.inputs[0].dtype == "float32"
    assert "if seq_len" in kernel.forms or "(chunk" in kernel.forms or \
        kernel.forms in ("parallel", "recurrent")
    assert kernel.metadata.startswith("seqmix-abi 1")
    assert kernel.cost_lines and "chunked(16)=" in kernel.cost_lines[0]
    assert kernel.cost_model == "built-in"
    assert "seqmix.gated_linear_attention" in kernel.ir("import")
    assert "scf.for" in kernel.ir("lower-forms")
    with pytest.raises(seqmix.SeqmixError, match="phase must be one of"):
        kernel.ir("later")


@pytest.mark.parametrize("T", [1, 7, 64, 130])
def test_numpy_matches_reference(kernel, T):
    q, k, v, g = inputs(T)
    out, state = kernel(q, k, v, g)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    ref_out, ref_state = reference(q, k, v, g)
    assert close(out, ref_out)
    assert close(state, ref_state)


def test_state_in_and_out_split_sequence(kernel):
    q, k, v, g = inputs(50, seed=3)
    full, full_state = kernel(q, k, v, g)
    a = [x[:, :, :20].copy() for x in (q, k, v, g)]
    b = [x[:, :, 20:].copy() for x in (q, k, v, g)]
    out1, s1 = kernel(*a)
    out2, s2 = kernel(*b, initial_state=s1)
    assert close(np.concatenate([out1, out2], axis=2), full)
    assert close(s2, full_state)
    s0 = np.random.default_rng(1).standard_normal((B, H, K, V)).astype(
        np.float32)
    out, state = kernel(q, k, v, g, initial_state=s0)
    ref_out, ref_state = reference(q, k, v, g, s0)
    assert close(out, ref_out) and close(state, ref_state)


def test_torch_inputs_give_torch_outputs(kernel):
    torch = pytest.importorskip("torch")
    q, k, v, g = inputs(33)
    ref, _ = kernel(q, k, v, g)
    out, state = kernel(*(torch.from_numpy(x) for x in (q, k, v, g)))
    assert isinstance(out, torch.Tensor) and isinstance(state, torch.Tensor)
    assert close(out.numpy(), ref)
    # Zero-copy in: a tensor sharing numpy memory is read in place (the
    # result changes when the buffer does).
    qt = torch.from_numpy(q)
    q[...] *= 2
    out2, _ = kernel(qt, *(torch.from_numpy(x) for x in (k, v, g)))
    assert close(out2.numpy(), 2 * ref)


def test_jax_inputs_give_jax_outputs(kernel):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    q, k, v, g = inputs(21)
    ref, ref_state = kernel(q, k, v, g)
    out, state = kernel(*(jnp.asarray(x) for x in (q, k, v, g)))
    assert isinstance(out, jax.Array) and isinstance(state, jax.Array)
    assert close(np.asarray(out), ref) and close(np.asarray(state), ref_state)
    # Zero-copy out: the layer wrote 64-byte aligned memory that JAX took
    # through DLPack as it is.
    assert out.unsafe_buffer_pointer() % 64 == 0


def test_out_is_written_and_returned(kernel):
    torch = pytest.importorskip("torch")
    q, k, v, g = inputs(9)
    ref, ref_state = kernel(q, k, v, g)
    out = np.empty_like(ref)
    st = np.empty_like(ref_state)
    r_out, r_state = kernel(q, k, v, g, out=(out, st))
    assert r_out is out and r_state is st and close(out, ref)
    # A single tensor is the first output; torch too.
    tout = torch.empty(ref.shape)
    r_out, _ = kernel(*(torch.from_numpy(x) for x in (q, k, v, g)), out=tout)
    assert r_out is tout and close(tout.numpy(), ref)
    with pytest.raises(seqmix.SeqmixError, match="out= must be contiguous"):
        kernel(*(torch.from_numpy(x) for x in (q, k, v, g)),
               out=torch.empty(ref.shape[::-1]).permute(3, 2, 1, 0))
    with pytest.raises(seqmix.SeqmixError,
                       match=r"output 'out': expected shape \(2, 2, 9, 8\)"):
        kernel(q, k, v, g, out=np.empty((2, 2, 8, 8), np.float32))
    with pytest.raises(seqmix.SeqmixError, match="has 2 outputs"):
        kernel(q, k, v, g, out=(out,))
    # out= overlapping an input is refused, not computed in place.
    with pytest.raises(seqmix.SeqmixError, match="overlap"):
        kernel(q, k, v, g, out=(v, st))


def test_noncontiguous_inputs_are_copied(kernel):
    q, k, v, g = inputs(12)
    ref, _ = kernel(q, k, v, g)
    qt = np.ascontiguousarray(q.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    assert not qt.flags.c_contiguous
    out, _ = kernel(qt, k, v, g)
    assert close(out, ref)


def test_argument_errors_name_the_argument(kernel):
    torch = pytest.importorskip("torch")
    q, k, v, g = inputs(10)
    cases = [
        ((q[:, :, :9], k, v, g), {}, "input 'k': dimension 2 \\(seq_len\\) "
         "is 10, but 'q' has seq_len = 9"),
        ((q, k[..., :15], v, g), {}, "input 'k': dimension 3 \\(key_dim\\) "
         "must be 16, got 15"),
        ((q.astype(np.float64), k, v, g), {},
         "input 'q': expected dtype float32, got float64"),
        ((q[0], k, v, g), {}, "input 'q': expected 4 dimensions"),
        ((q, k, v), {}, "missing input\\(s\\) g"),
        ((q, k, v, g, g), {}, "takes 4 positional inputs"),
        ((q, k, v, g), {"h": g}, "has no input 'h'"),
        ((q, k, v, [1.0]), {}, "input 'g': expected a numpy array"),
        ((torch.from_numpy(q).to("meta"), k, v, g), {},
         "input 'q': the tensor is on meta"),
        ((torch.from_numpy(q).double(), k, v, g), {},
         "input 'q': expected dtype float32, got float64"),
    ]
    for args, kwargs, pattern in cases:
        with pytest.raises(seqmix.SeqmixError, match=pattern):
            kernel(*args, **kwargs)


def test_compile_errors_carry_locations(cache):
    bad = dict(SPEC, heads=0)
    with pytest.raises(seqmix.SeqmixError) as e:
        seqmix.compile(bad, cache_dir=cache)
    (severity, location, message), = e.value.diagnostics
    assert severity == "error" and location.startswith("<dict>:")
    assert "heads" in message
    with pytest.raises(seqmix.SeqmixError, match="unknown option 'colour'"):
        seqmix.compile(SPEC, cache_dir=cache, colour="blue")
    with pytest.raises(seqmix.SeqmixError, match="sideways"):
        seqmix.compile(SPEC, cache_dir=cache, form="sideways")
    with pytest.raises(seqmix.SeqmixError, match="chunk_size': expected an int"):
        seqmix.compile(SPEC, cache_dir=cache, chunk_size="32")
    with pytest.raises(seqmix.SeqmixError, match="cannot read 'nope.json'"):
        seqmix.compile("nope.json", cache_dir=cache)
    with pytest.raises(seqmix.SeqmixError, match="expected a dict"):
        seqmix.compile(42, cache_dir=cache)


def test_spec_as_text_path_and_overrides(cache, tmp_path):
    path = tmp_path / "layer.json"
    path.write_text(json.dumps(SPEC))
    a = seqmix.compile(str(path), cache_dir=cache, form="chunked",
                       chunk_size=16)
    b = seqmix.compile(json.dumps(SPEC), cache_dir=cache, form="recurrent")
    assert a.forms == "chunked(chunk 16)" and b.forms == "recurrent"
    q, k, v, g = inputs(40)
    assert close(a(q, k, v, g)[0], b(q, k, v, g)[0])


def _run(code, cache, env_extra=None):
    env = dict(os.environ, SEQMIX_CACHE_DIR=str(cache))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          env=env, capture_output=True, text=True, timeout=600)


CHILD = """
    import json, sys, time, numpy as np, seqmix
    spec = json.loads(sys.argv[1] if len(sys.argv) > 1 else %r)
    t = time.perf_counter()
    k = seqmix.compile(spec)
    ms = (time.perf_counter() - t) * 1e3
    rng = np.random.default_rng(0)
    q = rng.standard_normal((1, 2, 5, 16), dtype=np.float32)
    v = rng.standard_normal((1, 2, 5, 8), dtype=np.float32)
    g = np.full((1, 2, 5), -0.1, np.float32)
    out, _ = k(q, q, v, g)
    print(json.dumps({"cached": k.cached, "ms": ms,
                      "sum": float(np.abs(out).sum())}))
""" % json.dumps(SPEC)


def test_second_compile_in_a_new_process_is_a_cache_hit(tmp_path):
    first = _run(CHILD, tmp_path)
    assert first.returncode == 0, first.stderr
    second = _run(CHILD, tmp_path)
    assert second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert not a["cached"] and b["cached"]
    assert a["sum"] == b["sum"]
    # Another option is another entry.
    assert len(list(tmp_path.glob("*.so"))) == 1


def test_concurrent_compiles_both_succeed(tmp_path):
    env = dict(os.environ, SEQMIX_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD)],
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    for out, err, rc in results:
        assert rc == 0, err
    sums = {json.loads(out)["sum"] for out, _, _ in results}
    assert len(sums) == 1
    assert len(list(tmp_path.glob("*.so"))) == 1
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage-record",
                                    "other-layer", "no-record"])
def test_damaged_cache_entries_are_rebuilt(tmp_path, damage):
    first = _run(CHILD, tmp_path)
    assert first.returncode == 0, first.stderr
    so, = tmp_path.glob("*.so")
    record = so.with_suffix(".json")
    if damage == "truncate":
        data = so.read_bytes()
        so.write_bytes(data[: len(data) // 2])
    elif damage == "garbage-record":
        record.write_text("{not json")
    elif damage == "other-layer":
        # A valid shared library, but not the one the record describes.
        other = seqmix.compile(dict(SPEC, name="other"), cache_dir=tmp_path)
        so.write_bytes(next(p for p in tmp_path.glob("*.so") if p != so)
                       .read_bytes())
        del other
    else:
        record.unlink()
    again = _run(CHILD, tmp_path)
    assert again.returncode == 0, again.stderr
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert not b["cached"] and a["sum"] == b["sum"]
    third = _run(CHILD, tmp_path)
    assert json.loads(third.stdout)["cached"]


def test_torch_custom_op_opcheck_and_compile(kernel):
    torch = pytest.importorskip("torch")
    import seqmix.torch as st
    op = st.as_op(kernel)
    assert st.as_op(kernel) is op
    q, k, v, g = (torch.from_numpy(x) for x in inputs(19))
    out, state = op(q, k, v, g, None)
    ref, ref_state = kernel(q, k, v, g)
    assert torch.equal(out, ref) and torch.equal(state, ref_state)
    result = torch.library.opcheck(op, (q, k, v, g, None))
    assert all(r == "SUCCESS" for r in result.values()), result

    def f(q, k, v, g):
        o, s = op(q, k, v, g, None)
        return o * 2, s

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    o2, s2 = compiled(q, k, v, g)
    assert torch.equal(o2, 2 * out) and torch.equal(s2, state)
    # Another length goes through the same graph (dynamic seq_len).
    q2, k2, v2, g2 = (torch.from_numpy(x) for x in inputs(5))
    o3, _ = compiled(q2, k2, v2, g2)
    assert o3.shape == (B, H, 5, V)
    # The forward runs on tensors that require grad; a backward raises.
    o4, _ = op(q.clone().requires_grad_(), k, v, g, None)
    assert torch.equal(o4.detach(), out)
    with pytest.raises(seqmix.SeqmixError, match="no backward"):
        o4.sum().backward()


def test_jax_pure_callback_under_jit(kernel):
    jax = pytest.importorskip("jax")
    import seqmix.jax as sj
    fn = sj.as_jax_function(kernel)
    q, k, v, g = inputs(11)
    ref, ref_state = kernel(q, k, v, g)
    out, state = jax.jit(fn)(q, k, v, g)
    assert close(np.asarray(out), ref) and close(np.asarray(state), ref_state)


def test_grouped_value_heads(cache):
    """value_heads = 3 x heads: value head h reads q and k of head h // 3;
    a v with the query heads' count is refused, naming value_heads."""
    spec = dict(SPEC, name="py_gla_grouped", value_heads=6, value_dim=48)
    kern = seqmix.compile(spec, cache_dir=cache)
    T, Hv = 9, 6
    rng = np.random.default_rng(3)
    q = rng.standard_normal((B, H, T, K), dtype=np.float32)
    k = rng.standard_normal((B, H, T, K), dtype=np.float32)
    v = rng.standard_normal((B, Hv, T, V), dtype=np.float32)
    g = (-0.2 * rng.random((B, Hv, T))).astype(np.float32)
    s0 = rng.standard_normal((B, Hv, K, V), dtype=np.float32)
    out, s = kern(q, k, v, g, initial_state=s0)
    qr, kr = np.repeat(q, 3, axis=1), np.repeat(k, 3, axis=1)
    S = s0.astype(np.float64)
    ref = np.zeros(v.shape)
    for t in range(T):
        S = np.exp(g[:, :, t])[..., None, None] * S + \
            kr[:, :, t, :, None] * v[:, :, t, None, :]
        ref[:, :, t] = np.einsum("bhk,bhkv->bhv", qr[:, :, t], S)
    assert out.shape == (B, Hv, T, V) and s.shape == (B, Hv, K, V)
    assert close(out, ref) and close(s, S)
    with pytest.raises(seqmix.SeqmixError, match="value_heads"):
        kern(q, k, v[:, :H], g, initial_state=s0)


def test_gate_none_equals_identity_linear_attention(cache):
    """FORMS.md 3.6 / 7.5(7): gated linear attention with gate none is linear
    attention with the identity map and no normalizer, in every form."""
    base = {"seqmix": 1, "heads": 2, "key_dim": 32, "value_dim": 16,
            "scale": 0.5, "batch": "?", "seq_len": "?",
            "state": {"initial": True, "final": True}}
    gla = dict(base, name="py_none", mixer="gated_linear_attention",
               gate="none")
    lin = dict(base, name="py_identity", mixer="linear_attention",
               feature_map="identity")
    T = 37
    rng = np.random.default_rng(5)
    q = rng.standard_normal((B, H, T, K), dtype=np.float32)
    k = rng.standard_normal((B, H, T, K), dtype=np.float32)
    v = rng.standard_normal((B, H, T, V), dtype=np.float32)
    s0 = rng.standard_normal((B, H, K, V), dtype=np.float32)
    for form, chunk in [("recurrent", 0), ("parallel", 0), ("chunked", 16)]:
        opts = {"form": form}
        if chunk:
            opts["chunk_size"] = chunk
        a = seqmix.compile(gla, cache_dir=cache, **opts)(
            q, k, v, initial_state=s0)
        b = seqmix.compile(lin, cache_dir=cache, **opts)(
            q, k, v, initial_state=s0)
        for x, y in zip(a, b):
            assert close(x, y), form


@pytest.mark.parametrize("dtype", ["bf16", "f16"])
def test_narrow_dtypes_torch_numpy_jax(cache, dtype):
    """bf16/f16 activations and output, f32 gate and state (FORMS.md 0.3):
    torch tensors, numpy arrays (bfloat16 from ml_dtypes) and JAX arrays of
    the narrow type in and out, checked against the float64 recurrence on
    the same rounded inputs at FORMS.md 7.2's tolerance for the type."""
    torch = pytest.importorskip("torch")
    kern = seqmix.compile(dict(SPEC, name="py_gla_" + dtype, dtype=dtype),
                          cache_dir=cache)
    names = {"bf16": "bfloat16", "f16": "float16"}
    narrow = getattr(torch, names[dtype])
    q, k, v, g = inputs(40, seed=5)
    qn, kn, vn = (torch.from_numpy(x).to(narrow) for x in (q, k, v))
    out, state = kern(qn, kn, vn, torch.from_numpy(g))
    assert out.dtype == narrow and state.dtype == torch.float32
    ref, ref_state = reference(*(x.float().numpy() for x in (qn, kn, vn)), g)
    tol = 1e-2 if dtype == "bf16" else 2e-3
    err = np.abs(out.float().numpy() - ref).max() / np.abs(ref).max()
    assert err <= tol, err
    assert close(state.numpy(), ref_state)
    # A wrong element type is named.
    with pytest.raises(seqmix.SeqmixError, match="expected dtype"):
        kern(torch.from_numpy(q), kn, vn, torch.from_numpy(g))
    # numpy and JAX arrays of the type give the same result.
    if dtype == "bf16":
        ml_dtypes = pytest.importorskip("ml_dtypes")
        np_narrow = ml_dtypes.bfloat16
    else:
        np_narrow = np.float16
    arrays = [x.float().numpy().astype(np_narrow) for x in (qn, kn, vn)]
    out_np, _ = kern(*arrays, g)
    assert out_np.dtype == np.dtype(np_narrow)
    assert np.array_equal(out_np.astype(np.float32), out.float().numpy())
    jax = pytest.importorskip("jax")
    out_jax, _ = kern(*(jax.numpy.asarray(a) for a in arrays),
                      jax.numpy.asarray(g))
    assert np.array_equal(np.asarray(out_jax).astype(np.float32),
                          out.float().numpy())


def _has_cuda_driver():
    import ctypes
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def _ptxas():
    import shutil
    for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
        d = os.environ.get(var)
        if d and os.access(os.path.join(d, "bin", "ptxas"), os.X_OK):
            return True
    return bool(shutil.which("ptxas")) or os.access("/usr/local/cuda/bin/ptxas", os.X_OK)


@pytest.mark.skipif(_has_cuda_driver() or not _ptxas(),
                    reason="needs the CUDA toolkit and no CUDA driver")
def test_cuda_layer_without_a_driver_says_so(tmp_path):
    spec = dict(SPEC, target="cuda")
    with pytest.raises(seqmix.SeqmixError, match="needs an NVIDIA GPU: no CUDA driver"):
        seqmix.compile(spec, cache=False)


def _cuda_kernel_stub():
    """A Kernel as a cuda layer's would be, without loading one (no GPU
    here): what its argument checks say before any call."""
    k = object.__new__(seqmix.Kernel)
    k.target, k.name = "cuda", "stub"
    return k


def test_cuda_layer_takes_cuda_tensors_only():
    torch = pytest.importorskip("torch")
    k = _cuda_kernel_stub()
    arg = seqmix.Arg("q", False, "float32", [("batch", None)])
    with pytest.raises(seqmix.SeqmixError,
                       match=r"input 'q': the tensor is on cpu; this kernel "
                             r"was compiled for the cuda target and takes "
                             r"CUDA tensors \(move it with .cuda\(\)\)"):
        k._as_input(arg, torch.zeros(2), {})
    with pytest.raises(seqmix.SeqmixError,
                       match="input 'q': this kernel was compiled for the "
                             "cuda target and takes CUDA tensors or arrays "
                             r"\(PyTorch, or JAX and __dlpack__ arrays in GPU "
                             r"memory\), got a numpy array in host memory"):
        k._as_input(arg, np.zeros(2, np.float32), {})
    jax = pytest.importorskip("jax")
    with pytest.raises(seqmix.SeqmixError,
                       match="input 'q': .* got a jax array in host memory"):
        k._as_input(arg, jax.numpy.zeros(2, jax.numpy.float32), {})
    with pytest.raises(seqmix.SeqmixError,
                       match="output 'o': this kernel was compiled for the "
                             "cuda target; out= takes a PyTorch CUDA tensor"):
        k._as_output(seqmix.Arg("o", True, "float32", [("batch", None)]),
                     np.zeros(2, np.float32), (2,), "numpy")
    # A CPU layer says the opposite of a tensor elsewhere.
    k.target = "cpu"
    with pytest.raises(seqmix.SeqmixError,
                       match="input 'q': the tensor is on meta; this kernel "
                             "was compiled for the CPU"):
        k._as_input(arg, torch.zeros(2, device="meta"), {})
