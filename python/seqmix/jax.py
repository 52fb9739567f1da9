"""seqmix kernels inside JAX programs.

Calling a kernel on JAX arrays works eagerly (through DLPack; the outputs
come back as JAX arrays). Under `jax.jit` the kernel runs as a host callback:

    import jax, seqmix, seqmix.jax
    fn = seqmix.jax.as_jax_function(kernel)
    out, final_state = jax.jit(fn)(q, k, v, g)

`as_jax_function` wraps the kernel in `jax.pure_callback` with the outputs'
shapes computed from the inputs' at trace time. The callback runs on the
CPU, has no derivative rule, and JAX may batch it (`vmap`) by calling it
once per element.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import SeqmixError


def as_jax_function(kernel):
    """A function of the kernel's inputs (positional, an optional
    initial_state keyword) returning its outputs as JAX arrays, usable under
    jax.jit."""
    inputs = [a for a in kernel.inputs if a.name != "initial_state"]
    takes_state = any(a.name == "initial_state" for a in kernel.inputs)

    def fn(*args, initial_state=None):
        if len(args) != len(inputs):
            raise SeqmixError(
                f"{kernel.name} takes {len(inputs)} inputs "
                f"({', '.join(a.name for a in inputs)}), got {len(args)}")
        if initial_state is not None and not takes_state:
            raise SeqmixError(f"{kernel.name} takes no initial state")
        sizes = {}
        for a, x in zip(inputs, args):
            shape = jnp.shape(x)
            if len(shape) != len(a.dims):
                raise SeqmixError(
                    f"input '{a.name}': expected {len(a.dims)} dimensions "
                    f"({', '.join(n for n, _ in a.dims)}), got shape {shape}")
            for (name, static), n in zip(a.dims, shape):
                if static is not None and n != static:
                    raise SeqmixError(f"input '{a.name}': {name} must be "
                                      f"{static}, got {n}")
                sizes.setdefault(name, n)
        results = tuple(
            jax.ShapeDtypeStruct(
                tuple(s if s is not None else sizes[n] for n, s in o.dims),
                jnp.float32)
            for o in kernel.outputs)
        operands = [jnp.asarray(x, jnp.float32) for x in args]
        if initial_state is not None:
            operands.append(jnp.asarray(initial_state, jnp.float32))

        def host(*arrays):
            arrays = [np.ascontiguousarray(a, np.float32) for a in arrays]
            state = arrays.pop() if initial_state is not None else None
            out = kernel(*arrays, initial_state=state)
            return out if isinstance(out, tuple) else (out,)

        out = jax.pure_callback(host, results, *operands,
                                vmap_method="sequential")
        return out[0] if len(out) == 1 else tuple(out)

    fn.__name__ = f"seqmix_{kernel.name}"
    return fn
