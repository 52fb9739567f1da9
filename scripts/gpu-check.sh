#!/usr/bin/env bash
# The cuda target's device check (issue 12): on a machine with an NVIDIA GPU
# (Hopper, sm_90, unless SEQMIX_GPU_ARCH says otherwise) and the CUDA
# toolkit, in one command of a few minutes:
#   1. builds seqmixc (the existing build directory, or a fresh one);
#   2. runs every example in every form its family has on the GPU against
#      the double-precision reference (FORMS.md 7.2's tolerances for the
#      dtype), the forms cross-checked, T in {1, 64, 1000}, f32 and bf16;
#   3. times causal softmax (B=4, H=16, T=4096, D=128, bf16), chunked GLA
#      (B=4, H=16, T=4096, K=V=128, bf16) and the selective scan (B=4,
#      D=2048, N=16, T=4096) and, when a Python with a CUDA PyTorch is found
#      ($SEQMIX_PYTHON, the project's venv, python3), PyTorch on the same GPU
#      (SDPA; a plain-torch chunked GLA; a mamba-style token loop), and
#      prints the ratios.
# Exit status: non-zero when a check fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ARCH="${SEQMIX_GPU_ARCH:-sm_90}"
BUILD="${SEQMIX_BUILD_DIR:-build}"
OUT="${OUT:-$(mktemp -d)}"
if [ ! -x "$BUILD/bin/seqmixc" ]; then
  cmake -G Ninja -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
fi
ninja -C "$BUILD" seqmixc >/dev/null || exit 1
SEQMIXC="$BUILD/bin/seqmixc"
PY="${SEQMIX_PYTHON:-$HOME/.cache/seqmix/venv/bin/python}"
[ -x "$PY" ] || PY=python3
echo "== device"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader

echo "== correctness (every example and form, f32 and bf16, vs the reference)"
fails=0
mkdir -p "$OUT/bf16"
python3 test/Integration/CPU/Inputs/with_dtype.py bf16 "$OUT/bf16" examples/*.json >/dev/null
for spec in examples/*.json "$OUT"/bf16/*.json; do
  name=$(basename "$spec" .json)
  case "$name" in
    causal_conv1d) forms="parallel"; lens="--seq-len=1,64,1000"; cross="" ;;
    lti_scan) forms="recurrent"; lens="--seq-len=1,64,1000"; cross="--cross-check=chunked" ;;
    softmax_decode) forms="recurrent chunked"; lens="--kv-len=1000"; cross="" ;;
    *) forms="recurrent"; lens="--seq-len=1,64,1000"; cross="--cross-check=parallel,chunked" ;;
  esac
  for form in $forms; do
    line=$("$SEQMIXC" run "$spec" --target=cuda --gpu-arch="$ARCH" --form="$form" $cross $lens --reps=3 2>&1 | tail -1)
    echo "$(basename "$(dirname "$spec")")/$name $form $cross: $line"
    case "$line" in *PASS*) ;; *) fails=$((fails + 1)) ;; esac
  done
done

echo "== timings (median of 10 calls; seqmix on the GPU, and PyTorch when found)"
python3 - "$OUT" <<'PYEOF'
import json, sys
out = sys.argv[1]
def spec(path, **kw):
    d = json.load(open(path)); d.update(kw); return d
json.dump(spec("examples/softmax_attention.json", heads=16, kv_heads=16, head_dim=128, dtype="bf16"),
          open(out + "/t_softmax.json", "w"))
json.dump(spec("examples/gla.json", heads=16, key_dim=128, value_dim=128, dtype="bf16",
               state={"initial": False, "final": False}), open(out + "/t_gla.json", "w"))
json.dump(spec("examples/selective_scan.json", channels=2048, state_dim=16),
          open(out + "/t_scan.json", "w"))
PYEOF
declare -A ms
# Stage 2 against stage 1: the softmax layer's contractions on the SIMT cores.
line=$("$SEQMIXC" run "$OUT/t_softmax.json" --target=cuda --gpu-arch="$ARCH" --form=chunked --tensor-cores=false --batch=4 --seq-len=4096 --reference=false --reps=10 2>&1 | grep "T=4096")
echo "seqmix softmax (chunked, --tensor-cores=false): $(echo "$line" | sed -n 's/.*time \([0-9.]*\) ms.*/\1/p') ms  [$line]"
# The FA2-style row runs against per-op tensor-core tiles (S and P in
# shared memory, a block barrier after each op).
line=$("$SEQMIXC" run "$OUT/t_softmax.json" --target=cuda --gpu-arch="$ARCH" --form=chunked --row-runs=false --batch=4 --seq-len=4096 --reference=false --reps=10 2>&1 | grep "T=4096")
echo "seqmix softmax (chunked, --row-runs=false): $(echo "$line" | sed -n 's/.*time \([0-9.]*\) ms.*/\1/p') ms  [$line]"
for t in softmax:chunked gla:chunked scan:recurrent; do
  name=${t%%:*}; form=${t##*:}
  line=$("$SEQMIXC" run "$OUT/t_$name.json" --target=cuda --gpu-arch="$ARCH" --form="$form" --batch=4 --seq-len=4096 --reference=false --reps=10 2>&1 | grep "T=4096")
  ms[$name]=$(echo "$line" | sed -n 's/.*time \([0-9.]*\) ms.*/\1/p')
  echo "seqmix $name ($form): ${ms[$name]:-failed} ms  [$line]"
  [ -n "${ms[$name]}" ] || fails=$((fails + 1))
done
if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  "$PY" - "${ms[softmax]:-0}" "${ms[gla]:-0}" "${ms[scan]:-0}" <<'PYEOF'
import sys, torch, torch.nn.functional as F
dev, bf = "cuda", torch.bfloat16
def timed(fn, reps=10):
    fn(); torch.cuda.synchronize()
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for a, b in ev:
        a.record(); fn(); b.record()
    torch.cuda.synchronize()
    t = sorted(a.elapsed_time(b) for a, b in ev)
    return t[len(t) // 2]
B, H, T, D = 4, 16, 4096, 128
q, k, v = (torch.randn(B, H, T, D, device=dev, dtype=bf) for _ in range(3))
sdpa = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
g = F.logsigmoid(torch.randn(B, H, T, D, device=dev)) / 16
def gla_chunked(C=64):
    qf, kf, vf = q.float(), k.float(), v.float()
    S = torch.zeros(B, H, D, D, device=dev); outs = []
    for s in range(0, T, C):
        qc, kc, vc, gc = qf[:, :, s:s+C], kf[:, :, s:s+C], vf[:, :, s:s+C], g[:, :, s:s+C]
        b = gc.cumsum(2)
        qd, kd = qc * b.exp(), kc * (-b).exp()
        A = (qd @ kd.transpose(-1, -2)).tril()
        outs.append(qd @ S + A @ vc)
        S = S * b[:, :, -1:].exp().transpose(-1, -2) + (kc * (b[:, :, -1:] - b).exp()).transpose(-1, -2) @ vc
    return torch.cat(outs, 2).to(bf)
gla = timed(gla_chunked, reps=3)
Bs, Dm, N, Ts = 4, 2048, 16, 4096
u, dt = torch.randn(Bs, Dm, Ts, device=dev), torch.randn(Bs, Dm, Ts, device=dev)
A = -torch.rand(Dm, N, device=dev); Bm, Cm = torch.randn(Bs, N, Ts, device=dev), torch.randn(Bs, N, Ts, device=dev)
def scan():
    d = F.softplus(dt); h = torch.zeros(Bs, Dm, N, device=dev); ys = []
    for t in range(Ts):
        h = torch.exp(d[:, :, t, None] * A) * h + (d[:, :, t] * u[:, :, t])[..., None] * Bm[:, None, :, t]
        ys.append((h * Cm[:, None, :, t]).sum(-1))
    return torch.stack(ys, -1)
sc = timed(scan, reps=1)
for name, theirs, ours in (("softmax vs SDPA", sdpa, sys.argv[1]), ("GLA vs plain-torch chunked", gla, sys.argv[2]),
                           ("selective scan vs torch loop", sc, sys.argv[3])):
    ours = float(ours)
    print("%-30s torch %.3f ms, seqmix %.3f ms: %s" % (name, theirs, ours,
          ("%.2fx (> 1: seqmix faster)" % (theirs / ours)) if ours > 0 else "no seqmix time"))
PYEOF
  echo "== the Python package and torch custom op on CUDA tensors"
  SEQMIX_LIB_DIR="$BUILD/lib" PYTHONPATH=python "$PY" - <<'PYEOF' || fails=$((fails + 1))
import json, torch, torch.nn.functional as F
import seqmix, seqmix.torch
spec = dict(json.load(open("examples/softmax_attention.json")), heads=4, kv_heads=4, dtype="bf16",
            target="cuda")
k = seqmix.compile(spec, cache=False)
q, kk, v = (torch.randn(2, 4, 300, 64, device="cuda", dtype=torch.bfloat16) for _ in range(3))
ref = F.scaled_dot_product_attention(q.float(), kk.float(), v.float(), is_causal=True)
for name, out in (("Kernel", k(q, kk, v)), ("custom op", seqmix.torch.as_op(k)(q, kk, v))):
    assert out.device.type == "cuda", out.device
    err = ((out.float() - ref).norm() / ref.norm()).item()
    print("%s on CUDA tensors: rel_rms %.2e vs SDPA in f32 %s" % (name, err, "PASS" if err < 1e-2 else "FAIL"))
    assert err < 1e-2
PYEOF
else
  echo "peers skipped: no Python with a CUDA PyTorch ($PY)"
fi
echo "== $fails failed"
exit $((fails > 0))
