//===- Passes.td - seqmix passes ---------------------------*- tablegen -*-===//
#ifndef SEQMIX_TRANSFORMS_PASSES_TD
#define SEQMIX_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SeqMixSelectForms : Pass<"seqmix-select-forms", "::mlir::ModuleOp"> {
  let summary = "Choose the computation form of every seqmix op (phase select-forms)";
  let description = [{
    Gives every seqmix op without a `form` attribute one. With `form=auto` the
    form comes from the cost model (FORMS.md section 6) among the forms that
    have a lowering for the op; otherwise the named form is set on every op
    (replacing any form already there). Each decision is reported as a remark
    on the op listing the cost of each candidate.

    With `form=auto` and a dynamic sequence length (the linear families and
    softmax attention), the cost model is asked at every length up to 2^20
    (powers of two, each change of form located by bisection; for softmax
    attention a change of the best chunk size counts too, its key blocks
    growing with the length). When different lengths want different
    forms, the op becomes a choice at run time: nested `scf.if` on the
    call's sequence length, each branch a copy of the op carrying its
    range's form and a `seqmix.seq_len_range = array<i64: lo, hi>` attribute
    (hi = 0: no end). At most four ranges; more keep one form.
    `per-call=false` keeps one form for all lengths.

    The machine's constants (peak rates, achieved fractions, fixed costs per
    chunk and block step) come from the built-in table fitted on the
    project's build machines, or from `cost-model=<file>`, a table that
    `seqmix-bench --calibrate` fits on the machine it runs on.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"form", "form", "std::string", "\"auto\"",
           "auto | parallel | chunked | recurrent">,
    Option<"chunkSize", "chunk-size", "int64_t", "0",
           "chunk size for the chunked form (0 = choose)">,
    Option<"perCall", "per-call", "bool", "true",
           "With a dynamic sequence length, let the layer choose among the "
           "forms per call by its length (thresholds from the cost model)">,
    Option<"emitRemarks", "remarks", "bool", "false",
           "report each decision as a remark on the op">,
    Option<"costModel", "cost-model", "std::string", "\"\"",
           "JSON table of the cost model's machine constants (written by "
           "seqmix-bench --calibrate); empty: the built-in table">,
  ];
}

def SeqMixAnnotateEntryDims : Pass<"seqmix-annotate-entry-dims", "::mlir::ModuleOp"> {
  let summary = "Name the dimensions of entry arguments and results from the seqmix ops";
  let description = [{
    The runtime checks that dimensions with the same name have the same size
    in every argument (docs/runtime.md); the names come from the
    `seqmix.dims` argument and result attributes. The spec importer sets them;
    for hand-written IR this pass derives them from the seqmix op that uses an
    argument or defines a result (q of gated_linear_attention is
    `["batch", "heads", "seq_len", "key_dim"]`, ...). Runs in the select-forms
    phase, before lowering removes the ops.

    Given annotations are kept when they agree with the op: each is an array
    of identifiers, one per dimension; a `seqmix.name` is an identifier,
    unique over arguments and results; dynamic dimensions that the op gives
    one role (the batch or the sequence length of every tensor) carry one
    name, so the runtime checks them against each other; one name never
    stands for two different static sizes. An entry tensor with a dynamic
    dimension that no seqmix op reads or produces directly is an error:
    nothing would tie its size to the layer's. Every error names the
    argument or result.
  }];
}

def SeqMixLowerForms : Pass<"seqmix-lower-forms", "::mlir::ModuleOp"> {
  let summary = "Lower every seqmix op to linalg/scf/tensor by its form attribute (phase lower-forms)";
  let description = [{
    Rewrites each seqmix op into linalg, scf, tensor, arith and math ops on
    tensors. The lowering reads only the op's `form` attribute; an op without
    one, or a form that has no lowering for the op yet, is an error that names
    the op and the form.

    `workers` is the number of threads the code will run on (0: this
    machine's hardware threads). The decode form of softmax attention splits
    its keys over workers (split-KV) when batch x heads is smaller.

    `avx512` says the code will run on a CPU with AVX-512F (the driver sets
    it from the target CPU): the selective scan's decays exp(delta A) then
    scale by 2^n with `x86vector.avx512.mask.scalef` (vscalefps), which
    needs no clamps (10 operations for the decay instead of 14). Off, the
    lowerings emit only portable vector, arith and math code.
  }];
  let options = [
    Option<"workers", "workers", "int64_t", /*default=*/"0",
           "Threads the compiled code runs on, for split-KV decode (0: this "
           "machine's hardware threads)">,
    Option<"avx512", "avx512", "bool", /*default=*/"false",
           "The code runs on a CPU with AVX-512F: use x86vector ops where "
           "they shorten the code">,
    Option<"channelBlock", "channel-block", "int64_t", /*default=*/"16",
           "Most channels per block of the selective scan (the lanes of its "
           "token loop): 16, a vector register, on the CPU; the cuda target "
           "takes 128, a block's threads, one channel each">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::complex::ComplexDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect", "::mlir::x86vector::X86VectorDialect"];
}

def SeqMixTileContractions
    : Pass<"seqmix-tile-contractions", "::mlir::ModuleOp"> {
  let summary = "Register-tile every matmul-shaped linalg op (phase schedule, CPU)";
  let description = [{
    For every linalg op on f32 tensors that is a contraction with loops
    (m, n, k) and a multiply-add body, whichever lowering emitted it: tiles
    (m, n) by MR x NR with scf.for, peels the loops so that the main tiles are
    static, steps the static tiles by one over k, vectorizes them into
    `vector.contract` on an MR x NR accumulator, and hoists the accumulator's
    read and write out of the k loop (a loop-carried vector). The partial
    tiles of dynamic or ragged dimensions stay linalg ops.

    NR is two vectors of the target's f32 lanes and MR is 8 with 16 lanes
    (AVX-512: 8 x 32, 16 of the 32 registers), else 6 (AVX2: 6 x 16).

    A contraction whose rows and reduction are both larger than 256 (or
    dynamic: the parallel forms' T x T scores) is first cut into cache
    blocks of 256 rows and 256 reduction steps, so that the reduction's
    panel of B and the block of C stay in the second-level cache while the
    register tiles walk them.

    An elementwise op that produces the accumulator's initial value in
    place and has no other use (a recurrent state's decay before a chunk's
    update, by a scalar or by a vector broadcast along its rows or columns)
    is fused into the register tile: each accumulator tile is scaled in
    registers on its way in, with no pass of its own over the state.

    With `bf16-dot`, a contraction whose operands are both widened bf16
    tensors (perhaps transposed or times a scalar) is first rewritten on
    the bf16 values: A as [M, K], B packed in pairs along k ([K/2, N, 2]),
    loops (m, n, k/2, pair); its static tiles become a loop over the pairs
    with one `x86vector.avx512.dot` (vdpbf16ps) per row and vector of lanes.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of a vector register (0: this machine's: 16 with "
           "AVX-512, 8 with AVX2, else 4)">,
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"0",
           "Rows MR of the register tile (0: from the vector width)">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "Compute the contractions whose operands are both bf16 "
           "activations with AVX512-BF16 dot products (vdpbf16ps on bf16 "
           "pairs, f32 accumulators); the target must have AVX512-BF16">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::affine::AffineDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect"];
}

def SeqMixVectorizeRows : Pass<"seqmix-vectorize-rows", "::mlir::ModuleOp"> {
  let summary = "Vectorize elementwise work and row reductions in rows of one vector register (after bufferization)";
  let description = [{
    Every linalg op on f32 memrefs whose innermost loop walks the innermost,
    contiguous dimension of each operand it indexes (scaling, masks, exp,
    fills, row maxima and sums) is tiled into rows of `vector-width` elements
    along that loop and 1 along the others; the row loop is peeled and the
    full rows are vectorized (`vector.transfer_read`/`write`,
    `vector.multi_reduction`). The ragged rest stays a linalg op.

    A row reduction (`l[i] = l[i] + S[i, j]`, or max / min, over the
    innermost loop) instead keeps one vector accumulator per row: the row's
    full vectors are combined lane-wise, the lanes once as a tree of halves,
    the ragged rest element by element, and the result read and written
    once per row. A row dot product (`p[i] = p[i] + W[i, j] * q[j]`, the
    second operand indexed by any projection of the loops that ends in the
    innermost one) is such a reduction with fused multiply-adds.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"0",
           "f32 lanes of a vector register (0: this machine's)">
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::memref::MemRefDialect",
    "::mlir::vector::VectorDialect"];
}

def SeqMixLowerVectors : Pass<"seqmix-lower-vectors", "::mlir::ModuleOp"> {
  let summary = "Lower register tiles (vector.contract, transfers) to FMAs, loads and stores";
  let description = [{
    Runs after bufferization, in four ordered pattern groups: contractions to
    outer products to `vector.fma`; transfer permutations, broadcasts,
    transposes and shape casts; n-D transfers to unrolled 1-D transfers; 1-D
    transfers to `vector.load`/`vector.store`. A `vector.contract` that
    survives is an error. No canonicalization may follow (it would fold the
    accumulators into scalars).
  }];
  let dependentDialects = ["::mlir::vector::VectorDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SeqMixDestinationPassingEntry
    : Pass<"seqmix-dps-entry", "::mlir::ModuleOp"> {
  let summary = "Turn tensor results of public functions into caller-owned output buffers";
  let description = [{
    For every public `func.func` with tensor results, appends one memref
    argument per result (identity layout, same shape), writes each returned
    tensor into it with `bufferization.materialize_in_destination`, and
    makes the function return nothing. A result computed into an empty
    tensor (through DPS inits, loop-carried and shared outputs, and the
    branches of an `scf.if`, as in a layer that picks a copy per call) is
    computed in the caller's buffer directly, with no temporary and no copy
    out. Run before bufferization: the caller
    (the runtime, PyTorch, JAX) then owns every output buffer and the compiled
    code allocates no result memory. The `seqmix.name` / `seqmix.dims`
    argument annotations of the importer are dropped (the runtime ABI
    metadata is read from them before this pass).
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def SeqMixInterchangeForUnitStride
    : Pass<"seqmix-interchange-for-unit-stride", "::mlir::ModuleOp"> {
  let summary = "Order linalg.generic loops so the innermost one is parallel and unit-stride";
  let description = [{
    Part of the default CPU schedule. For every `linalg.generic` this picks
    the parallel loop that indexes the last (contiguous, row-major) dimension
    of the most operands and makes it the innermost loop, keeping the order of
    the other loops. A contraction such as `O[t, j] += P[t, i] V[i, j]` then
    runs as a row update (`O[t, :] += P[t, i] V[i, :]`) that LLVM vectorizes,
    instead of a strided dot product whose floating-point reduction it may
    not reorder. Ops whose innermost loop is already the best are left alone;
    an innermost reduction that walks its operands' contiguous dimension (a
    row sum or maximum) counts as such, so that it is not turned into a
    strided walk for the sake of its one-dimensional result.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SeqMixPrefetchBlocks : Pass<"seqmix-prefetch-blocks", "::mlir::ModuleOp"> {
  let summary = "Prefetch the next block of the operands a block loop streams";
  let description = [{
    Part of the default CPU schedule, after bufferization. A block loop is
    an `scf.for` with a constant step C whose induction variable t is the
    offset of a `memref.subview` of a function argument along a dimension of
    static size C (a full block of q, k, v or the gates of a chunked or
    blocked form). For each such stream the pass prefetches the next block
    (the same view at t + C, every 64-byte line, for reading, into the
    second-level cache), spread over the block's host loop: of the loops in
    the block with a static trip count, the one with the most estimated
    work, whose iteration i takes rows [i r, (i + 1) r) of each stream.
    Nothing is prefetched when the next block is a partial one. Views whose
    result is not a static 1-D or 2-D memref of at least 4 KiB with a
    contiguous innermost dimension (a register tile's few lines of one
    token's vector, a gate block) are left alone.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def SeqMixApproximateExp : Pass<"seqmix-approximate-exp", "::mlir::ModuleOp"> {
  let summary = "Replace f32 math.exp by MLIR's polynomial approximation";
  let description = [{
    Rewrites `math.exp` on f32 into the polynomial approximation of the math
    dialect (range reduction + polynomial, about 1e-7 relative error in the
    normal range; results below the normal range flush to zero), and
    `math.log1p` and `math.log` (the selective scan's softplus) and
    `math.sin` and `math.cos` (the LTI scan's rotations, whose phases its
    lowering reduces to [-pi, pi] first) likewise. Unlike a call to libm's
    `expf`, the arithmetic vectorizes with the surrounding loop, which
    matters for the T x T decay matrices of the parallel forms, the D x N
    decays of every token of a selective scan and the LTI scan's tables of
    powers.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

def SeqMixHoistScratch : Pass<"seqmix-hoist-scratch", "::mlir::ModuleOp"> {
  let summary = "Block scratch buffers out of the kernel loops, on the stack "
                "of each worker";
  let description = [{
    Runs after the (batch, head) `scf.forall` became an `omp.parallel`
    region (or, in serial code, a loop). Every `memref.alloc` inside a loop
    of such a region (or function) whose sizes have constant upper bounds
    and that does not leave its block (yielded, returned, freed by
    ownership) becomes one `memref.alloca` of the bounded size at the entry
    of the region, which each thread enters once, viewed with the
    allocation's own sizes by a `memref.reinterpret_cast`; its deallocation
    goes. So no kernel loop calls malloc. Buffers with an unbounded size, or
    beyond `stack-bytes` per region in all, are left as they are.
  }];
  let options = [
    Option<"stackBytes", "stack-bytes", "int64_t", /*default=*/"262144",
           "Stack bytes per worker for hoisted scratch">,
  ];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::affine::AffineDialect"];
}

def SeqMixExpandMemRefCopies : Pass<"seqmix-expand-memref-copies", "::mlir::ModuleOp"> {
  let summary = "Rewrite memref.copy as linalg.copy";
  let description = [{
    Bufferization inserts `memref.copy`, which the LLVM lowering turns into a
    call to `memrefCopy` of MLIR's C runner utilities whenever a layout is not
    the identity. Compiled layers must not depend on that library, so every
    copy becomes a `linalg.copy` that lowers to plain loops.

    It also rewrites a `memref.expand_shape` of a contiguous (identity
    layout) buffer with two or more dynamic sizes in one reassociation group
    into the `memref.reinterpret_cast` it stands for (row-major strides of
    the result's sizes): MLIR 22's `expand-strided-metadata` crashes on such
    a group (views such as [n, 16] rows seen as [2, n / (2 Ns), Ns, 16],
    as the LTI scan's first FFT stages had; test/Transforms keeps one).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def SeqMixHideEntry : Pass<"seqmix-hide-entry", "::mlir::ModuleOp"> {
  let summary = "Give the layer's implementation function a name no library uses";
  let description = [{
    First pass of the llvm phase. A layer is named by its user (`name` in the
    spec), and that name may be a C-library, libm, OpenMP or runtime symbol
    (`memcpy`, `malloc`, `expf`, `_init`, `__kmpc_fork_call`,
    `seqmix_abi_metadata`, ...). Every public `func.func @f` with a body is
    renamed `@seqmix.layer.f` (a dot is not part of any C identifier) and gets
    `llvm.emit_c_interface`, so the lowering's own calls to `malloc`, `free`
    or `memcpy` can never resolve to the layer. `seqmix-export-entry`
    restores the user's name on the C-interface wrapper.
  }];
}

def SeqMixExportEntry : Pass<"seqmix-export-entry", "::mlir::ModuleOp"> {
  let summary = "Export only the layer's C-interface entry";
  let description = [{
    Last pass of the llvm phase, on the LLVM dialect. Renames the C-interface
    wrapper `@_mlir_ciface_seqmix.layer.f` of each function hidden by
    `seqmix-hide-entry` to `@_mlir_ciface_f`, and gives every other function
    and global defined in the module internal linkage. The only symbols a
    compiled layer then exports are `_mlir_ciface_<name>` and
    `seqmix_abi_metadata` (added when the object is written).
  }];
}

#endif // SEQMIX_TRANSFORMS_PASSES_TD

def SeqMixGpuDistribute : Pass<"seqmix-gpu-distribute", "::mlir::ModuleOp"> {
  let summary = "Map the slice loops to GPU blocks and the linalg ops in them to the block's threads (GPU schedule, stage 1 SIMT; on memrefs)";
  let description = [{
    The GPU schedule's first stage (issue 12), after bufferization. Each
    top-level `scf.forall` of a layer (the independent (batch, head) or
    (batch, channel) slices, with a chunk or query-block axis where the
    lowering has one) becomes a `gpu.launch` with one block per iteration
    (the iteration space flattened onto the grid's x axis) and `threads`
    threads per block. In the block:

    - every linalg op is distributed over the threads: its parallel
      iterations, flattened, in a block-stride loop, each thread computing
      the whole reduction of its iterations; a `gpu.barrier` follows it;
    - with `tensor-cores`, in a bf16 or f16 layer, a contraction
      C[m, n] += A[m, k] * B[k, n] (f32 accumulator) instead runs on the
      warps as `nvvm.mma.sync` m16n8k16 tiles of 16 rows by up to 32
      columns, its operands rounded to the layer's dtype on load, elements
      past the op's sizes zero (stage 2); an elementwise op that follows on
      its output in place (a causal mask, a decay) is applied to the sums
      before they are stored; and with `async-copies` a chunk
      loop's widened blocks of global inputs are copied one iteration
      ahead with `nvgpu.device_async_copy` (cp.async, 16 bytes a thread, rows
      past the end zero-filled) into two slots of shared memory, the
      widening reading the current slot after a wait and a barrier;
    - with `row-runs` (and tensor cores), a run of consecutive ops that
      are row-local (every buffer the run writes read and written only at
      the row of the op's iteration) and hold a contraction with an operand
      the run computes runs FA2-style: each warp takes units of 16 rows,
      the ops on the mma.sync accumulator layout; scratch buffers the run
      writes first and nothing reads after it (softmax's S and P, a
      block's row max) stay in registers (up to 64 columns), a contraction
      reads its A from them without a trip through shared memory, row
      reductions combine the four lanes of a row with two shuffles; the
      run's writes to memory (O, m, l) stay in its warp's rows
      (bar.warp.sync inside the run, one block barrier after it);
    - with `warp-reductions`, a reduction whose body folds into its output
      with addf, max or min (softmax's row statistics, a decode step's
      scores and sums) runs with a warp per output element where the
      bounds of its sizes say that takes fewer dependent steps than a
      thread per element (few outputs, a long reduction): each lane folds
      every 32nd element from the combiner's identity, a `gpu.shuffle xor`
      butterfly combines the lanes, lane 0 folds the total into the output;
    - control flow (the chunk loop, `scf.if` on the sequence length) runs
      in every thread, uniformly;
    - an explicit vector loop of a lowering whose vector ops are lane-wise
      (the scans' token loops: lanes are channels; rows read and written
      from column 0; no lane reading what another wrote) runs with lane i
      on thread i, each vector its lane's scalar (`lanes-on-threads`);
    - any other write to memory (a scalar store, other vector code) runs on
      thread 0, followed by a barrier;
    - each scratch buffer of the slice becomes a view of the block's
      dynamic shared memory at a fixed offset (its size bounded by
      `ValueBoundsOpInterface` when it is dynamic); the total is the
      launch's dynamic shared memory size, and above `max-shared-bytes` the
      pass fails naming the layer.

    A self-copy (`memref.copy %a, %a`, what bufferization leaves of an
    in-place insert) is dropped; any other copy is distributed as a
    `linalg.copy`.
  }];
  let options = [
    Option<"threads", "threads", "int64_t", /*default=*/"128",
           "Threads per block">,
    Option<"maxSharedBytes", "max-shared-bytes", "int64_t",
           /*default=*/"232448",
           "Most dynamic shared memory per block (H100: 227 KiB)">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "In a bf16 or f16 layer, compute the blocks' contractions as "
           "warp-level mma.sync m16n8k16 tiles (operands rounded to the "
           "layer's dtype, f32 accumulators); an f32 layer stays SIMT">,
    Option<"warpReductions", "warp-reductions", "bool", /*default=*/"true",
           "Compute a block's reductions with few outputs and many elements "
           "(decode's row max and sum, ...) with a warp per output element: "
           "lanes fold strided parts, a gpu.shuffle xor butterfly combines "
           "them">,
    Option<"asyncCopies", "async-copies", "bool", /*default=*/"true",
           "With tensor cores: a chunk loop's widened blocks of global "
           "inputs are copied one iteration ahead with cp.async into two "
           "slots of shared memory (a two-stage pipeline)">,
    Option<"rowRuns", "row-runs", "bool", /*default=*/"true",
           "With tensor cores: a run of row-local ops that holds a "
           "contraction (softmax's key-block step: S = q k^T, mask, row "
           "max, exp, row sum, rescale, O += P V) runs FA2-style on each "
           "warp's units of 16 rows, its temporaries (S, P, the block's "
           "statistics) in the registers of the mma fragments, P reused "
           "from the accumulators as the next mma's A, row reductions over "
           "the four lanes of a row with gpu.shuffle xor">,
    Option<"lanesOnThreads", "lanes-on-threads", "bool", /*default=*/"true",
           "Run a lowering's lane-wise vector code (the scans' token loops "
           "over a block of channels) with lane i on thread i instead of "
           "all of it on thread 0">,
    Option<"emulate", "emulate", "bool", /*default=*/"false",
           "Test mode without a GPU: the same schedule, then each launch as "
           "a loop over its blocks on the host with one thread per block "
           "(barriers dropped, shared memory and device buffers on the "
           "heap), for the CPU's LLVM phase: a check of the block mapping, "
           "the distribution and the scratch layout against the reference">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::nvgpu::NVGPUDialect"];
}

def SeqMixGpuFinalizeKernels : Pass<"seqmix-gpu-finalize-kernels", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Declare the kernels' dynamic shared memory as an external array and let ptxas use the registers of one block per SM";
  let description = [{
    After `convert-gpu-to-nvvm`, two fixes of the kernels for ptxas.

    The global that `gpu.dynamic_shared_memory`
    lowers to (a zero-length i8 array in address space 3) has internal
    linkage, which the NVPTX backend demotes to a one-byte `.shared`
    variable of the kernel, so ptxas sees every access past its first byte
    as out of bounds. With external linkage it is the `.extern .shared
    .b8 name[]` of CUDA's `extern __shared__`, the start of the block's
    dynamic shared memory.

    Each kernel gets `nvvm.minctasm = 1` (PTX `.minnctapersm 1`): without
    it ptxas aims at several blocks per SM and caps the registers (at 80 to
    128 for the tensor-core kernels, which then spill), although a block's
    dynamic shared memory already allows few blocks per SM.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}
