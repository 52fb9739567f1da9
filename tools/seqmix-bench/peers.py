"""The PyTorch implementations seqmix-bench times beside a seqmix layer.

seqmix-bench runs this module inside its own process (embedded CPython) and
calls run() with the layer's description and the very buffers it passed to
the seqmix layer, so every implementation sees the same inputs and the same
threads. Each peer is what a user would otherwise write or call:

  softmax_attention       torch.nn.functional.scaled_dot_product_attention
  gated_linear_attention  a chunked form (chunks of 64, FORMS.md 3.5) and a
                          token-by-token recurrent form, in plain torch
                          (every gate kind; the key-vector gate's intra
                          scores by the exact 3-index form)
  delta_rule              the token-by-token (gated) delta rule in plain
                          torch, q and k L2-normalized when the layer does
  selective_scan          Mamba-1's scan token by token in plain torch, in
                          the style of mamba's selective_scan_ref
  lti_scan                the S4D kernel (Vandermonde of exp(l dt A)) and
                          its FFT convolution in torch (S4D's standalone
                          form, no state), and the recurrence token by token
                          in complex torch
  causal_conv1d           torch.nn.functional.conv1d, depthwise (groups = D),
                          in the style of causal_conv1d's reference

Every peer returns its outputs in the layer's order (out, then final_state
when the layer has one) so that seqmix-bench can check that they agree.

In a bf16 or f16 layer, the peers with native kernels for the type (SDPA,
conv1d) take the narrow inputs as torch.bfloat16 / torch.float16 tensors
and return narrow outputs, as a model in that type calls them; the
plain-torch peers of the other families, written for f32 (a bf16 matmul
with an f32 gate does not even type-check in torch), compute in f32 on the
same rounded values.
"""
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F


def _as_tensor(buf, shape):
    return torch.from_numpy(np.frombuffer(buf, dtype=np.float32).reshape(shape))


# ---------------------------------------------------------------------------
# softmax attention


def _sdpa(layer, x):
    q, k, v = x["q"], x["k"], x["v"]
    Tq, Tk = q.shape[2], k.shape[2]
    window = layer.get("window")
    kwargs = {"scale": layer["scale"]}
    if k.shape[1] != q.shape[1]:
        kwargs["enable_gqa"] = True
    if window is None and (Tq == Tk or not layer["causal"]):
        kwargs["is_causal"] = bool(layer["causal"])
    else:
        # Queries are the last Tq positions of the Tk keys (bottom-right).
        pos = torch.arange(Tk - Tq, Tk).unsqueeze(1)
        j = torch.arange(Tk).unsqueeze(0)
        visible = (j <= pos) if layer["causal"] else torch.ones(Tq, Tk, dtype=torch.bool)
        if window is not None:
            visible &= ((pos - j) < window) if layer["causal"] else ((pos - j).abs() < window)
        kwargs["attn_mask"] = visible

    def call():
        return [F.scaled_dot_product_attention(q, k, v, **kwargs)]

    return call


# ---------------------------------------------------------------------------
# gated linear attention


def _log_gates(layer, x):
    """Per-token log gates as [B, H, T] (scalar-like gates) or None."""
    q = x["q"]
    B, H, T, _ = q.shape
    gate = layer["gate"]
    if gate == "scalar":
        return x["g"]
    if gate == "constant":
        d = torch.tensor(layer["log_decay"], dtype=torch.float32)
        return d.view(1, H, 1).expand(B, H, T)
    return None


# The torch peer's chunk for the key-vector gate: its 3-index intra scores
# are L x L x K per chunk, and 16 was its fastest chunk (B=1 H=4 K=V=128
# T=8192, machine B: 16, 32, 64 -> see docs/performance.md).
VECTOR_GATE_CHUNK = 16


def _gla_chunked(layer, x, chunk=64):
    """The chunked form (FORMS.md 3.5) as plain torch writes it stably:
    chunk-local cumulative log gates b ([B, H, L, 1] for the scalar-like
    gates, [B, H, L, K] for the key-vector gate), the intra scores masked
    before the exp (for the key-vector gate by the exact 3-index form
    sum_k q k exp(b_r - b_i)), then the inter term and the state update as
    matmuls."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, T, K = q.shape
    V = v.shape[-1]
    scale = layer["scale"]
    vector = layer["gate"] == "vector"
    if vector:
        chunk = VECTOR_GATE_CHUNK
        g = x["g"]
    else:
        g = _log_gates(layer, x)
        g = g.unsqueeze(-1) if g is not None else None
    s0 = x.get("initial_state")
    want_state = "final_state" in layer["outputs"]
    tril = torch.ones(chunk, chunk, dtype=torch.bool).tril()

    def call():
        S = s0.clone() if s0 is not None else q.new_zeros(B, H, K, V)
        o = q.new_empty(B, H, T, V)
        for c0 in range(0, T, chunk):
            c1 = min(T, c0 + chunk)
            L = c1 - c0
            qc = q[:, :, c0:c1] * scale
            kc, vc = k[:, :, c0:c1], v[:, :, c0:c1]
            if g is None:
                A = (qc @ kc.transpose(-1, -2)).masked_fill(~tril[:L, :L], 0.0)
                inter = qc @ S
                S = S + kc.transpose(-1, -2) @ vc
                o[:, :, c0:c1] = A @ vc + inter
                continue
            b = g[:, :, c0:c1].cumsum(-2)  # within the chunk only
            if vector:
                diff = b.unsqueeze(-2) - b.unsqueeze(-3)  # [B, H, L, L, K]
                diff = diff.masked_fill(~tril[:L, :L].view(L, L, 1), -math.inf)
                A = torch.einsum("bhrk,bhik,bhrik->bhri", qc, kc, diff.exp())
            else:
                b1 = b.squeeze(-1)
                diff = b1.unsqueeze(-1) - b1.unsqueeze(-2)
                A = (qc @ kc.transpose(-1, -2)) * \
                    diff.masked_fill(~tril[:L, :L], -math.inf).exp()
            inter = (qc * b.exp()) @ S
            last = b[:, :, -1:]
            kw = kc * (last - b).exp()
            S = S * last.exp().transpose(-1, -2) + kw.transpose(-1, -2) @ vc
            o[:, :, c0:c1] = A @ vc + inter
        return [o, S] if want_state else [o]

    return call


def _gla_recurrent(layer, x):
    q, k, v = x["q"], x["k"], x["v"]
    B, H, T, K = q.shape
    V = v.shape[-1]
    scale = layer["scale"]
    gate = layer["gate"]
    g = _log_gates(layer, x)
    if gate == "vector":
        g = x["g"]  # [B, H, T, K]
    s0 = x.get("initial_state")
    want_state = "final_state" in layer["outputs"]

    def call():
        S = s0.clone() if s0 is not None else q.new_zeros(B, H, K, V)
        o = q.new_empty(B, H, T, V)
        for t in range(T):
            if gate == "vector":
                S = S * g[:, :, t].exp().unsqueeze(-1)
            elif g is not None:
                S = S * g[:, :, t].exp().view(B, H, 1, 1)
            S = S + k[:, :, t].unsqueeze(-1) * v[:, :, t].unsqueeze(-2)
            o[:, :, t] = (q[:, :, t].unsqueeze(-2) * scale @ S).squeeze(-2)
        return [o, S] if want_state else [o]

    return call


# ---------------------------------------------------------------------------
# delta rule


def _delta_recurrent(layer, x):
    """The gated delta rule token by token (FORMS.md 4.2), as the reference
    loops of fla and the Gated DeltaNet papers write it."""
    q, k, v, beta = x["q"], x["k"], x["v"], x["beta"]
    g = x.get("g") if layer["gated"] else None
    B, H, T, K = q.shape
    V = v.shape[-1]
    scale, eps = layer["scale"], layer["eps"]
    if layer["l2norm_qk"]:
        q = q * torch.rsqrt((q * q).sum(-1, keepdim=True) + eps)
        k = k * torch.rsqrt((k * k).sum(-1, keepdim=True) + eps)
    s0 = x.get("initial_state")
    want_state = "final_state" in layer["outputs"]

    def call():
        S = s0.clone() if s0 is not None else q.new_zeros(B, H, K, V)
        o = q.new_empty(B, H, T, V)
        for t in range(T):
            if g is not None:
                S = S * g[:, :, t].exp().view(B, H, 1, 1)
            kt = k[:, :, t]
            w = (kt.unsqueeze(-2) @ S).squeeze(-2)
            u = beta[:, :, t].unsqueeze(-1) * (v[:, :, t] - w)
            S = S + kt.unsqueeze(-1) * u.unsqueeze(-2)
            o[:, :, t] = (q[:, :, t].unsqueeze(-2) * scale @ S).squeeze(-2)
        return [o, S] if want_state else [o]

    return call


# ---------------------------------------------------------------------------
# selective scan


def _selective_scan_ref(layer, x):
    """Mamba-1's selective scan token by token in plain torch, in the style
    of mamba's selective_scan_ref: deltaA = exp(delta A), deltaB_u = delta B
    u for the whole sequence, then the state loop with the read-out."""
    u, delta, A, Bm, Cm = x["u"], x["delta"], x["A"], x["B"], x["C"]
    Dskip, z, bias = x.get("D"), x.get("z"), x.get("delta_bias")
    s0 = x.get("initial_state")
    want_state = "final_state" in layer["outputs"]
    Bsz, D, T = u.shape
    G, N = Bm.shape[1], Bm.shape[2]

    def call():
        dt = delta if bias is None else delta + bias[:, None]
        if layer["delta_softplus"]:
            dt = F.softplus(dt)
        Bx = Bm.repeat_interleave(D // G, dim=1)  # [B, D, N, T]
        Cx = Cm.repeat_interleave(D // G, dim=1)
        deltaA = torch.exp(torch.einsum("bdt,dn->bdtn", dt, A))
        deltaB_u = torch.einsum("bdt,bdnt,bdt->bdtn", dt, Bx, u)
        h = s0.clone() if s0 is not None else u.new_zeros(Bsz, D, N)
        ys = []
        for t in range(T):
            h = deltaA[:, :, t] * h + deltaB_u[:, :, t]
            ys.append(torch.einsum("bdn,bdn->bd", h, Cx[:, :, :, t]))
        y = torch.stack(ys, dim=2)
        if Dskip is not None:
            y = y + u * Dskip[:, None]
        if z is not None:
            y = y * F.silu(z)
        return [y, h] if want_state else [y]

    return call


# ---------------------------------------------------------------------------
# LTI scan (S4D)


def _lti_parts(layer, x):
    """A, B, C as complex tensors and the discretized (Abar, Bbar) [H, N']."""
    def cx(t):
        return torch.complex(t[..., 0], t[..., 1]).to(torch.complex64) if layer["complex_mode"] \
            else t.to(torch.complex64)
    A, Bm, Cm = cx(x["A"]), cx(x["B"]), cx(x["C"])
    dt = torch.exp(x["log_dt"])[:, None]
    z = dt * A
    disc = layer["discretization"]
    if disc == "bilinear":
        Ab = (1 + z / 2) / (1 - z / 2)
        Bb = dt * Bm / (1 - z / 2)
        logA = torch.log(Ab)
    else:
        Ab = torch.exp(z)
        Bb = dt * Bm * (torch.expm1(z) / z if disc == "zoh" else 1)
        logA = z
    return Ab, Bb, Cm, logA


def _lti_fft(layer, x):
    """S4D's standalone convolution: the kernel from the Vandermonde
    exp(l log Abar), then y = irfft(rfft(u) rfft(K)) over 2T points."""
    if "initial_state" in x or "final_state" in layer["outputs"]:
        return None  # the convolution takes no state
    u, Dskip = x["u"], x.get("D")
    f = 2.0 if layer["complex_mode"] else 1.0
    T = u.shape[2]

    def call():
        Ab, Bb, Cm, logA = _lti_parts(layer, x)
        ell = torch.arange(T, dtype=torch.float32)
        K = f * torch.einsum("hn,hnl->hl", Cm * Bb,
                             torch.exp(logA[:, :, None] * ell)).real
        n = 2 * T
        y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(K, n=n), n=n)[..., :T]
        if Dskip is not None:
            y = y + u * Dskip[:, None]
        return [y]

    return call


def _lti_recurrent(layer, x):
    """The recurrence token by token in complex torch."""
    u, Dskip, s0 = x["u"], x.get("D"), x.get("initial_state")
    want_state = "final_state" in layer["outputs"]
    f = 2.0 if layer["complex_mode"] else 1.0
    Bsz, H, T = u.shape

    def call():
        Ab, Bb, Cm, _ = _lti_parts(layer, x)
        if s0 is None:
            h = torch.zeros(Bsz, H, Ab.shape[1], dtype=torch.complex64)
        elif layer["complex_mode"]:
            h = torch.complex(s0[..., 0], s0[..., 1])
        else:
            h = s0.to(torch.complex64)
        ys = []
        for t in range(T):
            h = Ab * h + Bb * u[:, :, t, None]
            ys.append(f * (h * Cm).sum(-1).real)
        y = torch.stack(ys, dim=2)
        if Dskip is not None:
            y = y + u * Dskip[:, None]
        if not want_state:
            return [y]
        st = torch.view_as_real(h).contiguous() if layer["complex_mode"] else h.real.contiguous()
        return [y, st]

    return call


# ---------------------------------------------------------------------------
# causal conv1d


def _causal_conv1d(layer, x):
    """Depthwise F.conv1d over [state, x] (or x padded with W - 1 zeros)."""
    xs, w, bias, s0 = x["x"], x["weight"], x.get("bias"), x.get("initial_state")
    want_state = "final_state" in layer["outputs"]
    D, W = w.shape

    def call():
        ext = torch.cat([s0, xs], dim=-1) if s0 is not None else F.pad(xs, (W - 1, 0))
        y = F.conv1d(ext, w[:, None, :], bias, groups=D)
        if layer["silu"]:
            y = F.silu(y)
        if not want_state:
            return [y]
        return [y, ext[..., ext.shape[-1] - (W - 1):].contiguous()]

    return call


# name -> (mixer, builder, the form whose FLOP count credits it)
PEERS = [
    ("torch.sdpa", "softmax_attention", _sdpa, "visible"),
    ("torch.chunked", "gated_linear_attention", _gla_chunked, "chunked(chunk 64)"),
    ("torch.recurrent", "gated_linear_attention", _gla_recurrent, "recurrent"),
    ("torch.recurrent", "delta_rule", _delta_recurrent, "recurrent"),
    ("torch.recurrent", "selective_scan", _selective_scan_ref, "recurrent"),
    ("torch.fft", "lti_scan", _lti_fft, "parallel"),
    ("torch.recurrent", "lti_scan", _lti_recurrent, "recurrent"),
    ("torch.conv1d", "causal_conv1d", _causal_conv1d, "parallel"),
]


# The narrow activation types, and the families whose peers take them as
# they are (torch's SDPA and conv1d have bf16 and f16 CPU kernels).
NARROW_TYPES = {"bf16": torch.bfloat16, "f16": torch.float16}
NATIVE_NARROW = ("softmax_attention", "causal_conv1d")


def available(layer_json):
    layer = json.loads(layer_json)
    return [name for name, mixer, _, _ in PEERS if mixer == layer["mixer"]]


def run(layer_json, buffers, shapes, reps, warmup, threads, max_seconds):
    """Times every peer of the layer's family on the given input buffers.

    Returns a list of dicts: name, form, times_ms, outputs (float32 numpy
    arrays in the layer's output order) and error (None or a message).
    """
    layer = json.loads(layer_json)
    torch.set_num_threads(threads)
    x = {n: _as_tensor(b, s) for n, b, s in zip(layer["inputs"], buffers, shapes)}
    narrow = NARROW_TYPES.get(layer.get("dtype", "f32"))
    if narrow is not None and layer["mixer"] in NATIVE_NARROW:
        for n in layer.get("narrow_inputs", []):
            x[n] = x[n].to(narrow)
    if layer["mixer"] in ("gated_linear_attention", "delta_rule"):
        # Grouped value heads: value head h reads the q and k of head
        # h / (Hv / H); the plain-torch peers take them repeated.
        group = x["v"].shape[1] // x["q"].shape[1]
        if group > 1:
            x["q"] = x["q"].repeat_interleave(group, dim=1)
            x["k"] = x["k"].repeat_interleave(group, dim=1)
    results = []
    with torch.inference_mode():
        for name, mixer, build, form in PEERS:
            if mixer != layer["mixer"]:
                continue
            if build is _gla_chunked and layer["gate"] == "vector":
                form = "chunked(chunk %d)" % VECTOR_GATE_CHUNK
            res = {"name": name, "form": form, "times_ms": [], "outputs": [], "error": None}
            try:
                call = build(layer, x)
                if call is None:
                    continue
                out = None
                for _ in range(max(1, warmup)):
                    t0 = time.perf_counter()
                    out = call()
                    first = time.perf_counter() - t0
                # A slow peer (the token loop) runs fewer repetitions.
                n = reps if first * reps <= max_seconds else max(1, int(max_seconds / max(first, 1e-9)))
                for _ in range(n):
                    t0 = time.perf_counter()
                    out = call()
                    res["times_ms"].append((time.perf_counter() - t0) * 1e3)
                res["outputs"] = [np.ascontiguousarray(o.float().numpy(), dtype=np.float32)
                                  for o in out]
            except Exception as e:  # reported per peer, the bench goes on
                res["error"] = "%s: %s" % (type(e).__name__, e)
            results.append(res)
    return results
