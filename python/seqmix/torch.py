"""seqmix kernels as PyTorch custom ops.

    import seqmix, seqmix.torch
    kernel = seqmix.compile("examples/gated_linear_attention.json")
    op = seqmix.torch.as_op(kernel)        # torch.ops.seqmix.<name>
    out, final_state = op(q, k, v, g, None)

The op is a `torch.library.custom_op` with a fake (meta) implementation that
gives the outputs' shapes from the inputs', so it runs under
`torch.compile(fullgraph=True)` without a graph break and passes
`torch.library.opcheck`. It computes on the tensors of the layer's target:
CPU tensors, or for a cuda layer CUDA tensors on cuda:0 (on the current
stream). It has no
derivative: the forward runs on tensors that require grad, and a backward
through it raises SeqmixError.
"""
import hashlib

import torch

from ._errors import SeqmixError

_ops = {}


def _op_name(kernel):
    """A name unique to the compiled layer (spec and options)."""
    h = hashlib.sha256((kernel._spec_text + repr(sorted(
        kernel._options.items()))).encode()).hexdigest()[:10]
    base = "".join(c if c.isalnum() else "_" for c in kernel.name)
    return f"{base}_{h}"


def as_op(kernel):
    """Registers `kernel` as the custom op torch.ops.seqmix.<name>_<hash>
    (once per process) and returns it. Its arguments are the kernel's inputs
    in order (an initial state, when the layer takes one, is optional:
    None starts from zeros); it returns the outputs (a tuple when there is
    more than one)."""
    name = _op_name(kernel)
    if name in _ops:
        return _ops[name]
    inputs = [a for a in kernel.inputs]
    params = []
    for a in inputs:
        if a.name == "initial_state":
            params.append(f"Tensor? {a.name}=None")
        else:
            params.append(f"Tensor {a.name}")
    n_out = len(kernel.outputs)
    ret = "Tensor" if n_out == 1 else "(" + ", ".join(["Tensor"] * n_out) + ")"
    schema = f"({', '.join(params)}) -> {ret}"
    qualname = f"seqmix::{name}"

    def impl(*args):
        state = None
        pos = []
        for a, x in zip(inputs, args):
            if a.name == "initial_state":
                state = x
            else:
                pos.append(x)
        return kernel(*pos, initial_state=state)

    # A cuda layer's op takes CUDA tensors (and runs on the current stream).
    device = "cuda" if kernel.target == "cuda" else "cpu"
    op = torch.library.custom_op(qualname, impl, mutates_args=(),
                                 device_types=device, schema=schema)

    @op.register_fake
    def _(*args):
        sizes = {}
        for a, x in zip(inputs, args):
            if x is None:
                continue
            if x.dim() != len(a.dims):
                raise SeqmixError(
                    f"input '{a.name}': expected {len(a.dims)} dimensions, "
                    f"got {x.dim()}")
            for (dim, static), n in zip(a.dims, x.shape):
                sizes.setdefault(dim, n)
        like = args[0]
        outs = []
        for a in kernel.outputs:
            shape = [s if s is not None else sizes[n] for n, s in a.dims]
            outs.append(like.new_empty(shape, dtype=getattr(torch, a.dtype)))
        return outs[0] if n_out == 1 else tuple(outs)

    def setup_context(ctx, inputs, output):
        pass

    def backward(ctx, *grads):
        raise SeqmixError(
            f"{kernel.name}: seqmix ops have no backward (the forward ran; "
            "differentiate another implementation, or call it under "
            "torch.no_grad())")

    op.register_autograd(backward, setup_context=setup_context)
    _ops[name] = op
    return op
