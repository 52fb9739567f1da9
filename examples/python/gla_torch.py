#!/usr/bin/env python3
"""Compile a gated-linear-attention spec with seqmix, run it on PyTorch
tensors, and compare it with a plain-PyTorch recurrence written here.

    python3 examples/python/gla_torch.py [--seq-len 512] [--spec examples/gla.json]

Prints the largest relative error against the torch recurrence (computed in
float64) and the median time of each.
"""
import argparse
import pathlib
import time

import torch

import seqmix

ROOT = pathlib.Path(__file__).resolve().parents[2]


def torch_recurrence(q, k, v, g, scale):
    """S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, o_t = scale q_t S_t, token
    by token (g per key channel, or one per head broadcast over them)."""
    B, H, T, K = q.shape
    V = v.shape[-1]
    if g.dim() == 3:
        g = g[..., None].expand(B, H, T, K)
    S = q.new_zeros(B, H, K, V)
    out = q.new_empty(B, H, T, V)
    for t in range(T):
        S = torch.exp(g[:, :, t, :, None]) * S + \
            k[:, :, t, :, None] * v[:, :, t, None, :]
        out[:, :, t] = scale * torch.einsum("bhk,bhkv->bhv", q[:, :, t], S)
    return out, S


def median_ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default=str(ROOT / "examples" / "gla.json"))
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()

    t = time.perf_counter()
    kernel = seqmix.compile(args.spec)
    print(f"compiled {kernel.name} ({kernel.forms}) in "
          f"{(time.perf_counter() - t) * 1e3:.0f} ms"
          f"{' (from the cache)' if kernel.cached else ''}")

    q_arg = kernel.inputs[0]
    H = dict(q_arg.dims)["heads"]
    K = dict(q_arg.dims)["key_dim"]
    V = dict(kernel.inputs[2].dims)["value_dim"]
    gate_dims = len(kernel.inputs[3].dims)
    torch.manual_seed(0)
    B, T = args.batch, args.seq_len
    q, k = torch.randn(B, H, T, K), torch.randn(B, H, T, K)
    v = torch.randn(B, H, T, V)
    g = -0.1 * torch.rand((B, H, T, K) if gate_dims == 4 else (B, H, T))
    scale = K ** -0.5  # the spec's "scale": "auto"

    result = kernel(q, k, v, g)
    out = result[0] if isinstance(result, tuple) else result
    ref, _ = torch_recurrence(*(x.double() for x in (q, k, v, g)), scale)
    err = ((out.double() - ref).abs().max() / ref.abs().max()).item()
    print(f"max error vs the torch recurrence (float64), relative to its "
          f"largest value: {err:.2e}")

    t_seqmix = median_ms(lambda: kernel(q, k, v, g), args.reps)
    t_torch = median_ms(lambda: torch_recurrence(q, k, v, g, scale),
                        max(1, args.reps // 2))
    print(f"B={B} H={H} T={T} K={K} V={V}: seqmix {t_seqmix:.2f} ms, "
          f"torch recurrence {t_torch:.2f} ms ({t_torch / t_seqmix:.0f}x)")
    if err > 1e-4:
        raise SystemExit(f"error {err:.2e} above 1e-4")


if __name__ == "__main__":
    main()
