#!/usr/bin/env python3
"""Known answers of FORMS.md 7.7 (KAT-A1..A5) and the stress cases of 7.6 for
softmax attention, through compiled layers in every form, called with the C
runtime API (ctypes): logits near 1000 (no overflow), windows, causal means,
fully masked rows (exactly 0) and masked keys holding huge values (no effect).
Prints one line per check and exits 1 when any fails."""
import ctypes
import json
import math
import os
import subprocess
import sys

seqmixc, libdir, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(tmp, exist_ok=True)
try:
    rt = ctypes.CDLL(os.path.join(libdir, "libseqmix_runtime.so"))
except OSError as e:
    # Under `make check-asan` the runtime is instrumented and this Python is
    # not: run again with the ASan runtime loaded first.
    if "__asan" not in str(e) or os.environ.get("SEQMIX_KAT_PRELOADED"):
        raise
    clang = "/usr/lib/llvm-22/bin/clang"
    asan = subprocess.run([clang, "-print-file-name=libclang_rt.asan-x86_64.so"],
                          capture_output=True, text=True).stdout.strip()
    env = dict(os.environ, LD_PRELOAD=asan, SEQMIX_KAT_PRELOADED="1",
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    sys.exit(subprocess.run([sys.executable] + sys.argv, env=env).returncode)
rt.seqmix_layer_load.restype = ctypes.c_void_p
rt.seqmix_layer_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
rt.seqmix_layer_call.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                 ctypes.POINTER(ctypes.c_char_p)]
rt.seqmix_layer_free.argtypes = [ctypes.c_void_p]


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64))]


def compile_layer(name, fields, form):
    spec = {"seqmix": 1, "name": name, "mixer": "softmax_attention", "heads": 1,
            "head_dim": 1, "scale": 1, "seq_len": "?", "kv_len": "?"}
    spec.update(fields)
    path = os.path.join(tmp, "%s.json" % name)
    with open(path, "w") as f:
        json.dump(spec, f)
    so = os.path.join(tmp, "%s_%s.so" % (name, form.replace("=", "").replace(" ", "")))
    # seqmixc brings its own (static) ASan runtime under check-asan.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run([seqmixc, path, "-o", so] + form.split(), check=True, env=env)
    err = ctypes.c_char_p()
    layer = rt.seqmix_layer_load(so.encode(), ctypes.byref(err))
    if not layer:
        sys.exit("cannot load %s: %s" % (so, err.value))
    return layer


def call(layer, q, k, v, lse=False):
    """q, k, v: lists (one head, head_dim 1); returns the output list, or the
    output and lse lists for a layer compiled with "outputs": ["out", "lse"]."""
    keep = []

    def tensor(values, rank=4):
        buf = (ctypes.c_float * len(values))(*values)
        shape = (ctypes.c_int64 * rank)(*([1, 1, len(values), 1][:rank]))
        keep.extend([buf, shape])
        return Tensor(ctypes.cast(buf, ctypes.c_void_p), rank, shape, None)

    n = 5 if lse else 4
    outs = [tensor([0.0] * len(q))] + ([tensor([0.0] * len(q), 3)] if lse else [])
    args = (Tensor * n)(tensor(q), tensor(k), tensor(v), *outs)
    err = ctypes.c_char_p()
    if rt.seqmix_layer_call(layer, ctypes.addressof(args), n, ctypes.byref(err)):
        sys.exit("call failed: %s" % err.value)
    res = [ctypes.cast(args[i].data, ctypes.POINTER(ctypes.c_float)) for i in range(3, n)]
    res = [[r[i] for i in range(len(q))] for r in res]
    return res if lse else res[0]


failures = 0


def check(what, got, want, tol=1e-4):
    global failures
    # -inf (lse of a row with no visible key) must be matched exactly.
    ok = len(got) == len(want) and all(
        g == w if math.isinf(w) else
        math.isfinite(g) and abs(g - w) <= tol * max(1.0, abs(w)) for g, w in zip(got, want))
    exact = [g for g, w in zip(got, want) if w == 0.0]
    ok = ok and all(g == 0.0 for g in exact)  # rows with no visible key: exactly 0
    print("%s %s: got %s, want %s" % ("ok" if ok else "FAIL", what, got, want))
    failures += 0 if ok else 1


ln3 = math.log(3.0)
for form in ["--form=parallel", "--form=chunked --chunk-size=2",
             "--form=chunked --chunk-size=1", "--form=recurrent"]:
    causal = compile_layer("causal", {"causal": True}, form)
    check("%s KAT-A1" % form, call(causal, [0, 1], [0, ln3], [4, 8]), [4, 7])
    check("%s KAT-A2 (logits 1000)" % form,
          call(causal, [0, 1], [1000, 1000 + ln3], [4, 8]), [4, 7], 1e-3)
    check("%s logits -1000" % form,
          call(causal, [0, -1], [1000, 1000 - ln3], [4, 8]), [4, 7], 1e-3)
    check("%s KAT-A4 causal mean" % form, call(causal, [0, 0, 0], [5, -3, 1], [2, 4, 9]),
          [2, 3, 5])
    # T_q > T_k: queries before the first key see nothing (exactly 0).
    check("%s no visible key" % form, call(causal, [1, 1, 1], [0], [4]), [0, 0, 4])
    rt.seqmix_layer_free(causal)

    full = compile_layer("full", {"causal": False}, form)
    check("%s KAT-A4 non-causal mean" % form,
          call(full, [0, 0, 0], [5, -3, 1], [2, 4, 9]), [5, 5, 5])
    rt.seqmix_layer_free(full)

    win = compile_layer("window", {"causal": True, "window": 1}, form)
    check("%s KAT-A3 window 1" % form, call(win, [3, -1, 2, 5], [1, 7, -2, 4], [1, 2, 3, 4]),
          [1, 2, 3, 4])
    rt.seqmix_layer_free(win)

    # Decode against 8 cached keys with a causal window of 3: keys 0..4 are
    # outside every query's window; huge values there change nothing.
    dec = compile_layer("decode", {"causal": True, "window": 3, "seq_len": 1}, form)
    keys = [0.1, 0.2, 0.3, 0.4, 0.5, 0, ln3, 0]
    vals = [1, 2, 3, 4, 5, 4, 8, 4]
    want = call(dec, [1], keys, vals)
    check("%s decode window" % form, want, [(4 + 3 * 8 + 4) / 5.0])
    huge = [1e30] * 5 + keys[5:]
    check("%s masked keys hold 1e30" % form, call(dec, [1], huge, [3e38] * 5 + vals[5:]), want, 1e-6)
    rt.seqmix_layer_free(dec)

    # The log-sum-exp output (FORMS.md 1.1): row 0 of KAT-A1 sees one key of
    # score 0 (lse 0), row 1 scores [0, ln 3] (lse ln 4); a row with no
    # visible key has lse -inf and output 0.
    lse = compile_layer("lse", {"causal": True, "outputs": ["out", "lse"]}, form)
    o, l = call(lse, [0, 1], [0, ln3], [4, 8], lse=True)
    check("%s KAT-A1 out with lse" % form, o, [4, 7])
    check("%s KAT-A1 lse" % form, l, [0, math.log(4.0)])
    o, l = call(lse, [0, 1], [1000, 1000 + ln3], [4, 8], lse=True)
    check("%s KAT-A2 lse (logits 1000)" % form, l, [0, 1000 + math.log(4.0)], 1e-6)
    o, l = call(lse, [1, 1, 1], [0], [4], lse=True)
    check("%s no visible key: out" % form, o, [0, 0, 4])
    check("%s no visible key: lse -inf" % form, l, [-math.inf, -math.inf, 0])
    rt.seqmix_layer_free(lse)

# KAT-A5, the split-KV merge (FORMS.md 0.5(d)) of the decode form: compiled
# for 16 workers, one query against 256 keys splits into two segments of 128
# whose partial states are (m, l, a) = (0, 1, 4) and (ln 3, 1, 8) (every
# other key scores -1e4, weight exactly 0): m = ln 3, l = 4/3, o = 7,
# lse = ln 4.
split = compile_layer("split", {"causal": True, "seq_len": 1, "outputs": ["out", "lse"]},
                      "--form=recurrent --workers=16")
keys, vals = [-1e4] * 256, [1e30] * 256
keys[0], vals[0], keys[128], vals[128] = 0.0, 4.0, ln3, 8.0
o, l = call(split, [1], keys, vals, lse=True)
check("KAT-A5 split-KV merge: out", o, [7])
check("KAT-A5 split-KV merge: lse", l, [math.log(4.0)])
# The same keys in the other order, in three segments of 88, 88 and 87 keys
# (the last one holds no key of weight above 0).
o, l = call(split, [1], keys[128:] + keys[:128] + [-1e4] * 7,
            vals[128:] + vals[:128] + [1.0] * 7, lse=True)
check("KAT-A5 segments swapped, ragged: out", o, [7])
check("KAT-A5 segments swapped, ragged: lse", l, [math.log(4.0)])
rt.seqmix_layer_free(split)

print("%d failed" % failures)
sys.exit(1 if failures else 0)
