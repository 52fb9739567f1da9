#!/usr/bin/env python3
"""The bad-input suite: hundreds of malformed specs, adversarial IR, bad
driver options and bad runtime calls, generated and hand-written.

Every input must end in a clean error (exit status 1 and a message naming the
problem) or in a correct result (exit status 0 and the expected output);
never a signal, a hang, or a wrong answer with exit status 0. Prints one line
per failing input and a summary; exits 1 when any input fails.
"""
import argparse
import concurrent.futures
import ctypes
import json
import os
import re
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True, help="directory of seqmixc, seqmix-opt")
ap.add_argument("--lib", required=True, help="directory of libseqmix_runtime.so")
ap.add_argument("--examples", required=True)
ap.add_argument("--nm", required=True, help="llvm-nm")
ap.add_argument("--tmp", required=True, help="scratch directory")
ap.add_argument("--runtime-child", action="store_true", help=argparse.SUPPRESS)
ap.add_argument("--layer", help=argparse.SUPPRESS)
args = ap.parse_args()

SEQMIXC = os.path.join(args.bin, "seqmixc")
OPT = os.path.join(args.bin, "seqmix-opt")
os.makedirs(args.tmp, exist_ok=True)


def tmp(name):
    return os.path.join(args.tmp, name)


def write(name, text, binary=False):
    path = tmp(name)
    with open(path, "wb" if binary else "w") as f:
        f.write(text)
    return path


class Case:
    """One input: a command, and what it must give.

    expect = "error": exit 1, `pattern` in stderr, "error:" in stderr.
    expect = "ok": exit 0, `pattern` in stdout.
    expect = "clean": either of the two (generated inputs whose validity is
    not decided here), with `pattern` required of an error message.
    """

    def __init__(self, group, cmd, expect, pattern="", check=None, stdin=None):
        self.group, self.cmd, self.expect = group, cmd, expect
        self.pattern, self.check, self.stdin = pattern, check, stdin
        self.then = None  # a Case to run after this one passes


CASES = []


def case(group, cmd, expect, pattern="", check=None, stdin=None):
    CASES.append(Case(group, cmd, expect, pattern, check, stdin))


def run_case(c):
    """Returns None when the case passes, else what went wrong."""
    try:
        p = subprocess.run(c.cmd, input=c.stdin, capture_output=True,
                           timeout=300)
    except subprocess.TimeoutExpired:
        return "hang (no exit within 300 s)"
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0 or p.returncode > 1:
        return "exit status %d (a signal or crash)\n%s" % (p.returncode, err[-2000:])
    is_error = p.returncode == 1
    if c.expect == "ok" and is_error:
        return "expected success, got an error:\n" + err[-2000:]
    if c.expect == "error" and not is_error:
        return "expected an error, got exit 0:\n" + out[-2000:]
    if is_error:
        if not err.strip():
            return "exit 1 without an error message"
        if c.pattern and not re.search(c.pattern, err):
            return "error message does not match /%s/:\n%s" % (c.pattern, err[-2000:])
    else:
        if c.expect == "ok" and c.pattern and not re.search(c.pattern, out):
            return "output does not match /%s/:\n%s" % (c.pattern, out[-2000:])
    if c.check:
        return c.check(p, out, err)
    return None


def spec(name="layer", **fields):
    """A small gated-linear-attention spec (fast to compile)."""
    s = {"seqmix": 1, "name": name, "mixer": "gated_linear_attention",
         "gate": "scalar", "heads": 2, "key_dim": 8, "value_dim": 8,
         "batch": "?", "seq_len": "?",
         "state": {"initial": True, "final": True}}
    s.update(fields)
    return s


def spec_file(fname, obj):
    return write(fname, json.dumps(obj, indent=1))


# ---------------------------------------------------------------------------
# 1. Symbol clashes: a layer may be named after any C-library, libm, libomp
# or runtime symbol; it must compile, export only its entry and metadata, and
# compute the right answer (seqmixc run compares with the f64 reference).
# ---------------------------------------------------------------------------
CLASHING = ["memcpy", "memset", "memmove", "expf", "exp", "logf", "sqrtf",
            "puts", "printf", "exit", "abort", "malloc", "free", "calloc",
            "realloc", "strlen", "_init", "_fini", "main", "_start",
            "__kmpc_fork_call", "__kmpc_global_thread_num",
            "omp_get_num_threads", "seqmix_abi_metadata", "seqmix_layer_call",
            "seqmix_layer_load", "dlopen", "dlsym", "__cxa_finalize",
            "__dso_handle", "_DYNAMIC", "_GLOBAL_OFFSET_TABLE_", "environ",
            "stdout", "errno", "_mlir_ciface_x", "mlirAsyncRuntimeExecute",
            "__tls_get_addr", "_mlir_memref_to_llvm_alloc",
            "_mlir_memref_to_llvm_free", "seqmix_scratch_alloc", "_", "x" * 128]


def exports_only(name):
    def check(p, out, err):
        so = tmp("sym_%s.so" % name[:40])
        nm = subprocess.run([args.nm, "-D", "--defined-only", so],
                            capture_output=True, text=True)
        syms = sorted(l.split()[-1] for l in nm.stdout.splitlines() if l.strip())
        want = sorted(["_mlir_ciface_" + name, "seqmix_abi_metadata"])
        if syms != want:
            return "exports %s, expected %s" % (syms, want)
        return None
    return check


for i, n in enumerate(CLASHING):
    f = spec_file("sym_%d.json" % i, spec(n))
    so = tmp("sym_%s.so" % n[:40])
    case("symbols", [SEQMIXC, f, "-o", so], "ok", check=exports_only(n))
    CASES[-1].then = Case("symbols", [SEQMIXC, "run", f, "--layer=" + so,
                                      "--seq-len=1,9", "--reps=1"], "ok", r"PASS")
for i, n in enumerate(["memcpy", "malloc", "_init", "__kmpc_fork_call",
                       "seqmix_abi_metadata", "expf"]):
    f = spec_file("symasm_%d.json" % i, spec(n))
    case("symbols", [SEQMIXC, f, "--emit=asm", "-o", "-"], "ok",
         r"_mlir_ciface_%s:" % n)
    case("symbols", [SEQMIXC, f, "--emit=llvm", "-o", "-"], "ok",
         r"define void @_mlir_ciface_%s\(" % n,
         check=lambda p, out, err, n=n: "the layer defines @%s" % n
         if re.search(r"^define [^@]*@%s\(" % re.escape(n), out, re.M) else None)
    f = spec_file("symjit_%d.json" % i, spec(n))
    case("symbols", [SEQMIXC, "run", f, "--jit", "--seq-len=1,9", "--reps=1"],
         "ok", r"PASS")
    case("symbols", [SEQMIXC, "run", f, "--threading=none", "--seq-len=5",
                     "--reps=1"], "ok", r"PASS")
# Names that are not identifiers, or too long, are refused at import with a
# message naming the field.
for i, n in enumerate(["a-b", "1x", "", " x", "x\n", "x y", "caf\u00e9", "a.b",
                       "x" * 129, "$x", "x;rm", "\u0000"]):
    f = spec_file("badname_%d.json" % i, spec(n))
    case("symbols", [SEQMIXC, f, "--compile-to=import"], "error",
         r"field 'name'")

# ---------------------------------------------------------------------------
# 2. Integer options and attributes, checked at their full width.
# ---------------------------------------------------------------------------
gla = spec_file("gla.json", spec())
BAD_CHUNKS = ["4294967296", "2147483648", "9223372036854775807", "-1", "-5",
              "4097", "-9223372036854775808", "4294967297"]
for c in BAD_CHUNKS:
    case("integers", [SEQMIXC, gla, "--compile-to=select-forms",
                      "--form=chunked", "--chunk-size=" + c], "error",
         r"--chunk-size must be between 1 and 4096 \(or 0 to choose\), got %s"
         % re.escape(c))
    case("integers", [SEQMIXC, gla, "--form=chunked", "--chunk-size=" + c,
                      "-o", tmp("never.so")], "error", r"--chunk-size")
for c in ["99999999999999999999", "abc", "1.5", ""]:
    case("integers", [SEQMIXC, gla, "--compile-to=select-forms",
                      "--form=chunked", "--chunk-size=" + c], "error",
         r"chunk-size")
for c in ["1", "4096", "7"]:
    case("integers", [SEQMIXC, gla, "--compile-to=select-forms",
                      "--form=chunked", "--chunk-size=" + c], "ok",
         r"#seqmix.form<chunked, chunk = %s>" % c)
case("integers", [SEQMIXC, "run", gla, "--form=chunked", "--chunk-size=4096",
                  "--seq-len=1,7,33", "--reps=1"], "ok", r"PASS")
case("integers", [SEQMIXC, "run", gla, "--form=chunked", "--chunk-size=1",
                  "--seq-len=1,7", "--reps=1"], "ok", r"PASS")

IR_GLA = """func.func @layer(%q: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
  %o = seqmix.gated_linear_attention %q, %q, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32EXTRA}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  return %o : tensor<?x2x?x8xf32>
}
"""
gla_ir = write("gla.mlir", IR_GLA.replace("EXTRA", ""))
for c in BAD_CHUNKS:
    for pipeline in ["--seqmix-select-forms=form=chunked chunk-size=%s",
                     "--seqmix-cpu-pipeline=form=chunked chunk-size=%s",
                     "--seqmix-to-lower-forms=form=chunked chunk-size=%s"]:
        case("integers", [OPT, gla_ir, pipeline % c], "error",
             r"chunk-size must be between 1 and 4096 \(or 0 to choose\), got %s"
             % re.escape(c))
case("integers", [OPT, gla_ir, "--seqmix-select-forms=form=chunked chunk-size=4096"],
     "ok", r"chunk = 4096")
for c in ["0", "-1", "4097", "4294967296", "9223372036854775807"]:
    f = write("form_%s.mlir" % c, IR_GLA.replace("EXTRA", ", form = #seqmix.form<chunked, chunk = %s>" % c))
    case("integers", [OPT, f], "error", r"chunked form needs a chunk size")
    case("integers", [SEQMIXC, f, "--compile-to=select-forms"], "error",
         r"chunked form needs a chunk size")
for text in ["#seqmix.form<chunked, chunk = 99999999999999999999>",
             "#seqmix.form<parallel, chunk = 5>", "#seqmix.form<chunked>",
             "#seqmix.form<recurrent, chunk = -1>", "#seqmix.form<sideways>"]:
    f = write("formx_%d.mlir" % len(CASES), IR_GLA.replace("EXTRA", ", form = " + text))
    case("integers", [OPT, f], "error", r"")
for field, value in [("chunk_size", 4097), ("chunk_size", 2**32),
                     ("chunk_size", 2**63 - 1), ("chunk_size", -5),
                     ("chunk_size", 0), ("heads", 2**31), ("heads", 2**63),
                     ("key_dim", 2**64), ("heads", -2**63), ("batch", 0),
                     ("seq_len", 2**40)]:
    f = spec_file("int_%s_%d.json" % (field, len(CASES)),
                  spec(form="chunked", **{field: value}))
    case("integers", [SEQMIXC, f, "--compile-to=import"], "error",
         r"field '%s'" % field)
for opt in ["--batch=0", "--batch=-1", "--seq-len=0", "--seq-len=-3",
            "--seq-len=1,0", "--reps=0", "--reps=-1", "--reps=4294967296",
            "--reps=100001", "--batch=9223372036854775807",
            "--seq-len=9223372036854775807", "--batch=99999999999999999999",
            "--seed=-1"]:
    case("integers", [SEQMIXC, "run", gla, opt], "error", r"")

# Sizes a compiled layer could never serve are errors at compile time, not a
# layer that fails every call or a malloc that fails inside it.
for kw, pat in [(dict(heads=1, key_dim=65536, value_dim=65536),
                 r"the state of one head is 65536 x 65536 f32 values"),
                (dict(heads=1, key_dim=4096, value_dim=262144),
                 r"the state of one head is"),
                (dict(seq_len=2**24, form="parallel"),
                 r"the parallel form .* takes at most 11585 tokens, but a sequence length "
                 r"is static 16777216"),
                (dict(seq_len=20000, form="parallel"), r"at most 11585 tokens")]:
    f = spec_file("size_%d.json" % len(CASES), spec(**kw))
    case("integers", [SEQMIXC, f, "-o", tmp("size.so")], "error",
         r"size_\d+\.json:\d+:\d+: error: .*" + pat)
for T, form, pat in [(2**62, "recurrent", r"too large to address"),
                     (2**61, "chunked", r"too large to address"),
                     (100000, "parallel", r"at most 11585 tokens"),
                     (2**62, "parallel", r"at most 11585 tokens")]:
    ty = "tensor<1x1x%dx8xf32>" % T
    f = write("size_%d.mlir" % len(CASES), IR_GLA.replace("tensor<?x2x?x8xf32>", ty).replace("EXTRA", ""))
    case("integers", [SEQMIXC, f, "--form=" + form, "-o", tmp("size.so")], "error", pat)
f = write("size_zero.mlir", "func.func @layer(%a: tensor<0xf32>) -> tensor<0xf32> { return %a : tensor<0xf32> }")
case("integers", [SEQMIXC, f, "-o", tmp("size.so")], "error", r"has a dimension of size 0")

# ---------------------------------------------------------------------------
# 3. Signedness: integer attribute constraints are checked as signed.
# ---------------------------------------------------------------------------
IR_SOFTMAX = """func.func @attn(%q: tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 0.5 : f32EXTRA}
      : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  return %o : tensor<1x2x8x4xf32>
}
"""
for w in ["-1", "0", "-9223372036854775808", "18446744073709551615",
          "-4294967296", "-2147483648"]:
    f = write("window_%d.mlir" % len(CASES), IR_SOFTMAX.replace("EXTRA", ", window = %s : i64" % w))
    case("signedness", [OPT, f], "error", r"\[C5\] window must be >= 1, got (0|-[0-9]+)\n")
    case("signedness", [SEQMIXC, f, "--compile-to=import"], "error", r"\[C5\]")
for w in ["1", "9223372036854775807"]:
    f = write("window_ok_%d.mlir" % len(CASES), IR_SOFTMAX.replace("EXTRA", ", window = %s : i64" % w))
    case("signedness", [OPT, f], "ok", r"window = ")
for w in [-1, 0, -2**63]:
    f = spec_file("window_%d.json" % len(CASES),
                  {"seqmix": 1, "name": "a", "mixer": "softmax_attention",
                   "heads": 2, "head_dim": 4, "window": w})
    case("signedness", [SEQMIXC, f, "--compile-to=import"], "error",
         r"\.json:\d+:\d+: field 'window'")
for attr, pat in [("scale = -1.0 : f32", r"\[C6\] scale must be > 0")]:
    f = write("softmax_scale.mlir", IR_SOFTMAX.replace("scale = 0.5 : f32EXTRA", attr))
    case("signedness", [OPT, f], "error", pat)

# ---------------------------------------------------------------------------
# 4. JSON: deep nesting is an error with a position, not a stack overflow;
# numbers follow the JSON grammar.
# ---------------------------------------------------------------------------
base = json.dumps(spec())
for depth in [65, 100, 1000, 40000, 200000]:
    f = write("deep_arr_%d.json" % depth, "[" * depth)
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"deep_arr_%d\.json:1:65: malformed JSON: arrays and objects nest "
         r"deeper than 64 levels" % depth)
    f = write("deep_obj_%d.json" % depth, '{"a":' * depth)
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"nest deeper than 64 levels")
    f = write("deep_field_%d.json" % depth,
              base[:-1] + ', "description": ' + "[" * depth + "]" * depth + "}")
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"deep_field_%d\.json:1:\d+: malformed JSON: arrays and objects nest" % depth)
case("json", [SEQMIXC, "run", write("deep_run.json", "[" * 50000)], "error",
     r"nest deeper")
f = write("nested_ok.json", base[:-1] + ', "description": ' + "[" * 60 + "]" * 60 + "}")
case("json", [SEQMIXC, f, "--compile-to=import"], "error",
     r"field 'description': expected a string")
for tok in ["04", "-04", "00", "01.5", "1.", "-", "1e", "1e+", "1.e5", "0x10",
            "+1", ".5", "1_000", "--1", "1e5.5", "Infinity", "NaN", "-0x1"]:
    f = write("num_%d.json" % len(CASES), base.replace('"heads": 2', '"heads": ' + tok))
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"num_\d+\.json(:\d+:\d+)?: malformed JSON")
    f = write("num_decay_%d.json" % len(CASES),
              json.dumps(spec(gate="constant")).replace(
                  '"gate": "constant"', '"gate": "constant", "decay": [0.5, %s]' % tok))
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"malformed JSON")
for tok, ok in [("0", False), ("0.5", True), ("-0.5", True), ("1e-3", True),
                ("1E+2", True), ("-0", False)]:
    f = write("numok_%d.json" % len(CASES), base[:-1] + ', "scale": %s}' % tok)
    case("json", [SEQMIXC, f, "--compile-to=import"], "ok" if ok else "clean",
         r"seqmix.gated_linear_attention" if ok else r"field 'scale'")
MALFORMED = ["", " ", "\n\n", "null", "[]", "[1, 2]", '"spec"', "42", "true",
             "{", "}", "{]", '{"seqmix": 1,}', '{"seqmix": 1 "name": "x"}',
             '{"seqmix": 1, "name": "x', '{"seqmix": 1, // c\n}', "/* c */ {}",
             '{"seqmix": 1, "name": "\\x41"}', '{"seqmix": 1, "name": "\\u12"}',
             "\ufeff" + base, base + " trailing", base + base,
             '{"seqmix": 1e400}', '{"seqmix": 18446744073709551616}',
             '{"seqmix": -1}', '{"seqmix": 1.0}', '{"seqmix": "1"}',
             "{'seqmix': 1}", '{"seqmix": 1, "name": "x\u0001"}',
             '{"seqmix":1,"name":"a","mixer":"gated_linear_attention",'
             '"gate":"none","heads":1,"key_dim":1,"value_dim":1,"heads":1}']
for i, text in enumerate(MALFORMED):
    f = write("malformed_%d.json" % i, text)
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"malformed_%d\.json" % i)
for i, blob in enumerate([b"\xff\xfe\x00\x01", b'{"seqmix": 1, "name": "\xc3\x28"}',
                          b"\x00" * 64, b'{"seqmix"\x00: 1}']):
    f = write("binary_%d.json" % i, blob, binary=True)
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"binary_%d\.json" % i)

# Generated: every field of every example spec replaced by each of a set of
# values of the wrong kind or out of range. Each must import or give an
# error that names the file (and, for a field, its line and column).
WRONG = ["x", -1, 0, 1e400, True, None, [], {}, 1.5, 2**63, -2**63, "?",
         "auto", 1e39, 1e-50]


def field_error_has_position(p, out, err):
    m = re.search(r"field '([a-z_.]+)'", err)
    if p.returncode == 1 and m and "missing field" not in err:
        if not re.search(r"\.json:\d+:\d+: ", err):
            return "a field error without its line and column: " + err
    return None


for ex in sorted(os.listdir(args.examples)):
    if not ex.endswith(".json"):
        continue
    with open(os.path.join(args.examples, ex)) as fh:
        orig = json.load(fh)
    for key in sorted(orig):
        if key in ("seqmix", "name", "mixer"):
            continue
        for j, v in enumerate(WRONG):
            mutated = dict(orig)
            mutated[key] = v
            text = json.dumps(mutated, indent=2).replace("Infinity", "1e400")
            f = write("mut_%s_%s_%d.json" % (ex[:-5], key, j), text)
            case("json-mutants", [SEQMIXC, f, "--compile-to=import"], "clean",
                 r"mut_%s_%s_%d\.json" % (ex[:-5], key, j),
                 check=field_error_has_position)

# Values that the f32 op attributes cannot hold are refused at their field.
for field, value in [("scale", 1e39), ("scale", -1e39), ("scale", 1e-50)]:
    f = spec_file("f32_%d.json" % len(CASES), spec(**{field: value}))
    case("json", [SEQMIXC, f, "--compile-to=import"], "error",
         r"\.json:\d+:\d+: field '%s': expected a number that f32 can hold" % field)
f = spec_file("f32_eps.json", {"seqmix": 1, "name": "d", "mixer": "delta_rule",
                               "heads": 2, "key_dim": 8, "value_dim": 8,
                               "eps": 1e-60})
case("json", [SEQMIXC, f, "--compile-to=import"], "error",
     r"\.json:\d+:\d+: field 'eps'")

# ---------------------------------------------------------------------------
# 5. Untrusted IR annotations are checked against the ops.
# ---------------------------------------------------------------------------
T4, V4 = "tensor<?x2x?x8xf32>", "tensor<?x2x?x4xf32>"


def annotated(fn="layer", q="", k="", v="", res="", g=""):
    return """func.func @%s(%%q: %s %s, %%k: %s %s, %%v: %s %s, %%g: tensor<?x2x?xf32> %s) -> (%s %s) {
  %%o = seqmix.gated_linear_attention %%q, %%k, %%v gates(%%g) {gate = #seqmix.gate<scalar>, scale = 0.5 : f32}
      : (%s, %s, %s, tensor<?x2x?xf32>) -> %s
  return %%o : %s
}
""" % (fn, T4, q, T4, k, V4, v, g, V4, res, T4, T4, V4, V4, V4)


ANNOT_BAD = [
    (dict(q='{seqmix.dims = ["batch", "heads"]}'), r"argument #0: seqmix.dims must be an array of 4"),
    (dict(q='{seqmix.dims = ["batch", "heads", "seq_len", "key_dim", "x"]}'), r"array of 4"),
    (dict(q='{seqmix.dims = []}'), r"array of 4"),
    (dict(q='{seqmix.dims = "batch"}'), r"array of 4"),
    (dict(q='{seqmix.dims = [1, 2, 3, 4]}'), r"seqmix.dims\[0\] must be a string holding an identifier"),
    (dict(q='{seqmix.dims = ["batch", "heads", "seq len", "key_dim"]}'), r"seqmix.dims\[2\]"),
    (dict(q='{seqmix.dims = ["batch", "heads", "seq_len\\n", "key_dim"]}'), r"seqmix.dims\[2\]"),
    (dict(q='{seqmix.dims = ["batch", "heads", "a:b", "key_dim"]}'), r"seqmix.dims\[2\]"),
    (dict(q='{seqmix.dims = ["seq_len", "heads", "batch", "key_dim"]}'), r"give dimensions with one role one name"),
    (dict(q='{seqmix.dims = ["b", "heads", "seq_len", "key_dim"]}'), r"give dimensions with one role one name"),
    (dict(k='{seqmix.dims = ["batch", "heads", "t", "key_dim"]}'), r"argument #1: dynamic dimension 2"),
    (dict(g='{seqmix.dims = ["batch", "heads", "t"]}'), r"argument #3"),
    (dict(res='{seqmix.dims = ["b", "heads", "t", "value_dim"]}'), r"result #0"),
    (dict(q='{seqmix.dims = ["batch", "x", "seq_len", "key_dim"]}', k='{seqmix.dims = ["batch", "x", "seq_len", "value_dim"]}'), r"with that name is|one role one name"),
    (dict(q='{seqmix.name = "q\\nx"}'), r"argument #0: seqmix.name must be a string holding an identifier"),
    (dict(q='{seqmix.name = "a b"}'), r"seqmix.name must be"),
    (dict(q='{seqmix.name = ""}'), r"seqmix.name must be"),
    (dict(q='{seqmix.name = 7}'), r"seqmix.name must be"),
    (dict(q='{seqmix.name = "%s"}' % ("n" * 129)), r"seqmix.name must be"),
    (dict(q='{seqmix.name = "a"}', k='{seqmix.name = "a"}'), r"'a' is given to two arguments"),
    (dict(q='{seqmix.name = "a"}', res='{seqmix.name = "a"}'), r"given to two"),
    (dict(fn='"a b"'), r"entry function is named 'a b'"),
    (dict(fn='"x\\ny"'), r"a layer name must be an identifier"),
    (dict(fn='"seqmix.layer"'), r"a layer name must be an identifier"),
    (dict(fn='"%s"' % ("f" * 129)), r"a layer name must be an identifier"),
]
for i, (kw, pat) in enumerate(ANNOT_BAD):
    f = write("annot_%d.mlir" % i, annotated(**kw))
    case("annotations", [SEQMIXC, f, "--emit=metadata"], "error", pat)
    case("annotations", [SEQMIXC, f, "-o", tmp("annot.so")], "error", pat)
    case("annotations", [OPT, f, "--seqmix-annotate-entry-dims"], "error", pat)
ANNOT_OK = [
    (dict(), r"arg in arg0 f32 batch:\? heads:2 seq_len:\? key_dim:8"),
    (dict(q='{seqmix.dims = ["b", "h", "t", "k"]}', k='{seqmix.dims = ["b", "h", "t", "k"]}',
          v='{seqmix.dims = ["b", "h", "t", "v"]}', g='{seqmix.dims = ["b", "h", "t"]}',
          res='{seqmix.dims = ["b", "h", "t", "v"]}'),
     r"arg out result0 f32 b:\? h:2 t:\? v:4"),
    (dict(q='{seqmix.name = "query"}', fn="memcpy"), r"name memcpy\narg in query"),
]
for i, (kw, pat) in enumerate(ANNOT_OK):
    f = write("annot_ok_%d.mlir" % i, annotated(**kw))
    case("annotations", [SEQMIXC, f, "--emit=metadata"], "ok", pat)
    case("annotations", [SEQMIXC, f, "-o", tmp("annot_ok_%d.so" % i)], "ok")
# A dynamic entry tensor that reaches the op through another op cannot be
# tied to the layer's sizes.
f = write("annot_cast.mlir", """func.func @layer(%q: tensor<?x2x?x8xf32>, %x: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
  %c = tensor.cast %x : tensor<?x2x?x8xf32> to tensor<?x2x?x8xf32>
  %o = seqmix.gated_linear_attention %q, %c, %q {gate = #seqmix.gate<none>, scale = 1.0 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  return %o : tensor<?x2x?x8xf32>
}
""")
case("annotations", [SEQMIXC, f, "--emit=metadata"], "error",
     r"argument #1 has type .* with a dynamic dimension, but it is not used directly")
f = write("annot_two_roles.mlir", """func.func @layer(%q: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
  %o = seqmix.softmax_attention %q, %q, %q {scale = 1.0 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  return %o : tensor<?x2x?x8xf32>
}
""")
case("annotations", [OPT, f, "--seqmix-annotate-entry-dims"], "error",
     r"argument #0 has two different roles for its dynamic dimension 2: q_len "
     r"in seqmix.softmax_attention and kv_len in seqmix.softmax_attention")
case("annotations", [SEQMIXC, f, "--emit=metadata"], "error",
     r"two different roles for its dynamic dimension")
# Past select-forms the ops are gone: only static shapes may be emitted.
lowered = tmp("lowered.mlir")
case("annotations", [SEQMIXC, gla_ir, "--compile-to=lower-forms", "-o", lowered], "ok")
CASES[-1].then = Case("annotations", [SEQMIXC, lowered, "--compile-from=lower-forms",
                                      "--emit=metadata"], "error",
                      r"needs static shapes \(entry type tensor<\?x2x\?x8xf32> is dynamic\)")
for phase in ["select-forms", "import"]:
    case("annotations", [SEQMIXC, write("annot_%s.mlir" % phase, annotated(q='{seqmix.dims = ["b", "heads", "seq_len", "key_dim"]}')),
                         "--compile-from=" + phase, "--emit=metadata"], "error",
         r"one role one name")
# Deeply nested IR is refused before MLIR's recursive parser.
for depth in [201, 5000, 100000]:
    f = write("deep_%d.mlir" % depth,
              "func.func @f() attributes {a = " + "[" * depth + "}\n")
    case("annotations", [SEQMIXC, f], "error",
         r"deep_%d\.mlir:1:\d+: error: input nests deeper than 200 levels" % depth)
    case("annotations", [OPT, f], "error",
         r"deep_%d\.mlir:1:\d+: error: input nests deeper than 200 levels" % depth)
    case("annotations", [OPT], "error", r"<stdin>:1:\d+: error: input nests deeper",
         stdin=open(f, "rb").read())
for i, text in enumerate(["func.func @f(", "module {", "%x = ", "}", "\x00\x01",
                          "func.func @f() { return }\n" * 3,
                          "func.func private @layer(%a: tensor<2xf32>) -> tensor<2xf32>",
                          "func.func @layer(%a: memref<2xf32>) { return }",
                          "func.func @layer(%a: tensor<2xf64>) -> tensor<2xf64> { return %a : tensor<2xf64> }",
                          "func.func @a(%x: tensor<2xf32>) -> tensor<2xf32> { return %x : tensor<2xf32> }\n"
                          "func.func @b(%x: tensor<2xf32>) -> tensor<2xf32> { return %x : tensor<2xf32> }"]):
    f = write("badir_%d.mlir" % i, text)
    case("annotations", [SEQMIXC, f, "-o", tmp("badir.so")], "error",
         r"badir_%d\.mlir|error" % i)

# ---------------------------------------------------------------------------
# 7. Driver.
# ---------------------------------------------------------------------------
def is_elf_layer(kind):
    def check(p, out, err):
        if not p.stdout.startswith(b"\x7fELF"):
            return "stdout is not an ELF file (%d bytes)" % len(p.stdout)
        if kind == "so":
            path = write("stdout_layer.so", p.stdout, binary=True)
            child = subprocess.run([sys.executable, __file__, "--bin", args.bin,
                                    "--lib", args.lib, "--examples", args.examples,
                                    "--nm", args.nm, "--tmp", args.tmp,
                                    "--runtime-child", "--layer", path],
                                   capture_output=True, text=True, env=child_env())
            if child.returncode != 0:
                return "the layer written to stdout does not load: " + child.stdout + child.stderr
        return None
    return check


case("driver", [SEQMIXC, gla, "--emit=so", "-o", "-"], "ok", check=is_elf_layer("so"))
case("driver", [SEQMIXC, gla, "--emit=obj", "-o", "-"], "ok", check=is_elf_layer("obj"))
case("driver", [SEQMIXC, gla, "--emit=so", "-o", "/nonexistent/dir/x.so"], "error",
     r"^seqmixc: error: cannot write '/nonexistent/dir/x.so': No such file or directory; check the -o path\n$")
case("driver", [SEQMIXC, gla, "--emit=obj", "-o", "/nonexistent/x.o"], "error",
     r"cannot write '/nonexistent/x.o'")
case("driver", [SEQMIXC, gla, "-o", args.tmp], "error", r"it is a directory")
case("driver", [SEQMIXC, gla, "-o", tmp("n" * 300 + ".so")], "error",
     r"File name too long; give a shorter -o path")
case("driver", [SEQMIXC, gla, "--emit=llvm", "-o", "/nonexistent/x.ll"], "error", r"")
case("driver", [SEQMIXC, "run", gla, "--reps=0"], "error",
     r"--reps must be between 1 and 100000, got 0")
for opt, pat in [("--emit=bogus", r"--emit must be"), ("--compile-to=bogus", r"--compile-to must be"),
                 ("--compile-from=bogus", r"--compile-from must be"), ("--form=bogus", r"--form must be"),
                 ("--target=tpu", r"--target must be cpu or cuda"), ("--target-cpu=bogus", r"unknown CPU 'bogus'"),
                 ("--threading=bogus", r"--threading must be"), ("--emit=so --compile-to=import", r"needs the whole pipeline"),
                 ("--compile-from=lower-forms", r"--compile-from applies to .mlir input only"),
                 ("--chunk-size=16 --form=recurrent", r"applies to --form=chunked"),
                 ("--no-such-flag", r"Unknown command line argument")]:
    case("driver", [SEQMIXC, gla] + opt.split(), "error", pat)
for opt, pat in [("--cross-check=bogus", r"--cross-check takes forms parallel, chunked or recurrent, got .bogus."), ("--gates=bogus", r"--gates must be"),
                 ("--layer=/nonexistent.so", r"cannot load"), ("--layer=%s" % gla, r"cannot load"),
                 ("--layer=x.so --jit", r"exclude each other|cannot load"),
                 ("--check-split", r"--check-split needs|dynamic"),
                 ("--batch=3", r"")]:
    f = gla if "check-split" not in opt else spec_file("nostate.json", spec(state={"initial": False, "final": False}))
    if opt == "--batch=3":
        f = spec_file("fixedb.json", spec(batch=2))
        pat = r"the spec fixes batch = 2"
    case("driver", [SEQMIXC, "run", f] + opt.split(), "error", pat)
other = tmp("other.so")
case("driver", [SEQMIXC, spec_file("other.json", spec(gate="none")), "-o", other], "ok")
CASES[-1].then = Case("driver", [SEQMIXC, "run", gla, "--layer=" + other], "error",
                      r"was not compiled from a spec with the arguments of")
case("driver", [SEQMIXC, "run", tmp("nofile.json")], "error", r"nofile\.json: cannot read")
SOFTMAX = {"seqmix": 1, "name": "a", "mixer": "softmax_attention", "heads": 2,
           "head_dim": 4}
for v in [0, -1, "x", 2**40, 1.5]:
    f = spec_file("kvlen_%d.json" % len(CASES), dict(SOFTMAX, kv_len=v))
    case("driver", [SEQMIXC, f, "--compile-to=import"], "error",
         r"\.json:\d+:\d+: field 'kv_len'")
for v in [[], ["lse"], ["out", "out"], ["out", "lse", "lse"], ["out", 1], "out", None,
          {"out": 1}, ["out", "final_state"]]:
    f = spec_file("outputs_%d.json" % len(CASES), dict(SOFTMAX, outputs=v))
    case("driver", [SEQMIXC, f, "--compile-to=import"], "error",
         r"\.json:\d+:\d+: field 'outputs': expected \[\"out\"\] or \[\"out\", \"lse\"\]")
f = spec_file("outputs_gla.json", spec(outputs=["out"]))
case("driver", [SEQMIXC, f, "--compile-to=import"], "error", r"unknown field 'outputs'")
for v in [["out"], ["out", "lse"]]:
    f = spec_file("outputs_ok_%d.json" % len(CASES), dict(SOFTMAX, outputs=v))
    case("driver", [SEQMIXC, f, "--compile-to=import"], "ok", r"seqmix.softmax_attention")
f = spec_file("kvlen_gla.json", spec(kv_len="?"))
case("driver", [SEQMIXC, f, "--compile-to=import"], "error", r"unknown field 'kv_len'")
case("driver", [SEQMIXC, "run", spec_file("kvlen_none.json", SOFTMAX), "--kv-len=4"], "error",
     r"--kv-len needs a spec with a \"kv_len\" field")
for opt, pat in [("--kv-len=0", r"--kv-len must be >= 1, got 0"),
                 ("--kv-len=5", r"--kv-len=5 but the spec fixes kv_len = 4")]:
    f = spec_file("kvlen_fixed.json", dict(SOFTMAX, kv_len=4))
    case("driver", [SEQMIXC, "run", f, opt], "error", pat)
case("driver", [SEQMIXC, "run", gla_ir], "error", r"needs a layer spec")
case("driver", [SEQMIXC, "--help"], "ok", r"--help-hidden lists")
case("driver", [SEQMIXC, "--help-hidden"], "ok", r"--mlir-print-ir-after-all")
case("driver", [SEQMIXC, "--help-hidden"], "ok", r"--mlir-timing")
case("driver", [SEQMIXC, gla, "--compile-to=select-forms", "--mlir-print-ir-after-all"], "ok")
case("driver", [SEQMIXC, "-", "--compile-to=import"], "error", r"", stdin=b"garbage")
case("driver", [SEQMIXC, "-", "--compile-to=import"], "ok", r"seqmix.gated_linear_attention",
     stdin=open(gla_ir, "rb").read())
# Spec errors that reach the op verifier point at the spec, not at 1:1.
case("driver", [SEQMIXC, spec_file("verifier.json", {"seqmix": 1, "name": "layer",
                                                      "mixer": "lti_scan", "channels": 8,
                                                      "state_dim": 4,
                                                      "state": {"final": True}}),
                "--form=parallel",
                "-o", tmp("v.so")], "error", r"verifier\.json:[0-9]+:[0-9]+: error: .*cannot be lowered")
CASES[-1].check = lambda p, out, err: ("points at 1:1: " + err) if "json:1:1:" in err else None


# ---------------------------------------------------------------------------
# 6. Runtime calls through the C API (ctypes), in a child process so that a
# crash is seen as one.
# ---------------------------------------------------------------------------
class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64))]


RUNTIME_CASES = []


def runtime_child():
    rt = ctypes.CDLL(os.path.join(args.lib, "libseqmix_runtime.so"))
    rt.seqmix_layer_load.restype = ctypes.c_void_p
    rt.seqmix_layer_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
    rt.seqmix_layer_call.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                     ctypes.POINTER(ctypes.c_char_p)]
    rt.seqmix_layer_num_args.argtypes = [ctypes.c_void_p]
    rt.seqmix_layer_free.argtypes = [ctypes.c_void_p]
    err = ctypes.c_char_p()
    layer = rt.seqmix_layer_load(args.layer.encode(), ctypes.byref(err))
    if not layer:
        print("cannot load: %s" % err.value)
        return 1
    if rt.seqmix_layer_num_args(layer) != 7:
        print("expected 7 arguments")
        return 1
    if args.layer.endswith("stdout_layer.so"):
        return 0  # loading was the check
    B, H, T, K, V = 2, 2, 5, 4, 4
    keep = []

    def buf(n, offset=0):
        b = (ctypes.c_char * (4 * n + 64))()
        keep.append(b)
        addr = (ctypes.addressof(b) + 15) // 16 * 16 + offset
        return addr

    def shp(*dims):
        a = (ctypes.c_int64 * max(1, len(dims)))(*dims)
        keep.append(a)
        return a

    def good():
        shapes = [(B, H, T, K), (B, H, T, K), (B, H, T, V), (B, H, T),
                  (B, H, K, V), (B, H, T, V), (B, H, K, V)]
        ts = []
        for s in shapes:
            n = 1
            for d in s:
                n *= d
            ts.append([buf(n), len(s), shp(*s), None])
        return ts

    def call(ts, n=None, null_args=False):
        arr = (Tensor * len(ts))()
        for i, (d, nd, s, st) in enumerate(ts):
            arr[i] = Tensor(d, nd, s, st)
        e = ctypes.c_char_p()
        rc = rt.seqmix_layer_call(layer, None if null_args else ctypes.addressof(arr),
                                  len(ts) if n is None else n, ctypes.byref(e))
        return rc, (e.value or b"").decode()

    results = []

    def expect(name, ts, pattern, **kw):
        rc, msg = call(ts, **kw)
        if pattern is None:
            ok = rc == 0 and msg == ""
        else:
            ok = rc != 0 and re.search(pattern, msg) is not None
        results.append((name, ok, rc, msg))

    expect("valid call", good(), None)
    expect("NULL args", good(), r"the args array is NULL", null_args=True)
    for n in [-1, 0, 6, 8, 17, 2**31 - 1]:
        expect("nargs=%d" % n, good(), r"takes 7 tensors", n=n)
    for nd in [-1, 0, 3, 5, 2**31 - 1]:
        ts = good()
        ts[0][1] = nd
        expect("ndim=%d" % nd, ts, r"'q' must have rank 4, got rank %d" % nd)
    ts = good()
    ts[0][2] = None
    expect("NULL shape", ts, r"'q' has rank 4 but its shape array is NULL")
    ts = good()
    ts[2][0] = None
    expect("NULL data", ts, r"'v' has no data")
    for bad in [0, -1, -2**63]:
        ts = good()
        ts[0][2] = shp(B, H, bad, K)
        expect("size %d" % bad, ts, r"sizes must be >= 1")
    for huge in [2**62, 2**61, 2**63 - 1, 2**40]:
        ts = good()
        for i in range(7):
            s = list(ts[i][2][:ts[i][1]])
            if i < 4 or i == 5:
                s[2] = huge
            ts[i][2] = shp(*s)
        expect("seq_len %d" % huge, ts, r"too large to address|above this layer.s limit|overlaps")
    ts = good()
    ts[1][2] = shp(B, H, T + 1, K)
    expect("seq_len mismatch", ts, r"dimension seq_len is 5 in 'q' but 6 in 'k'")
    ts = good()
    ts[3][2] = shp(B + 1, H, T)
    expect("batch mismatch", ts, r"dimension batch is 2 in 'q' but 3 in 'g'")
    ts = good()
    ts[0][2] = shp(B, H + 1, T, K)
    expect("static heads", ts, r"dimension 1 \(heads\) must be 2")
    ts = good()
    ts[4][2] = shp(B, H, K + 1, V)
    expect("state rows", ts, r"must be 4")
    for off in [1, 2, 3]:
        ts = good()
        ts[0][0] += off
        expect("misaligned +%d" % off, ts, r"'q' is not aligned")
    ts = good()
    ts[5][0] = ts[0][0]
    expect("output aliases input", ts, r"output 'out' overlaps argument 'q'")
    ts = good()
    ts[6][0] = ts[5][0]
    expect("outputs alias", ts, r"overlaps")
    ts = good()
    ts[5][0] = ts[2][0] + 8
    expect("output overlaps input", ts, r"overlaps")
    ts = good()
    ts[0][3] = shp(1, 1, 1, 1)
    expect("bad strides", ts, r"row-major contiguous")
    ts = good()
    ts[0][3] = shp(H * T * K, T * K, K, 1)
    expect("contiguous strides", ts, None)
    rt.seqmix_layer_free(layer)

    for path, pattern in [(b"/nonexistent.so", rb"cannot load compiled layer"),
                          (args.tmp.encode(), rb"cannot load"),
                          (write("empty.so", "").encode(), rb"cannot load"),
                          (write("text.so", "not a library").encode(), rb"cannot load"),
                          (b"libm.so.6", rb"cannot load"),
                          (b"", rb"no path given")]:
        e = ctypes.c_char_p()
        l2 = rt.seqmix_layer_load(path, ctypes.byref(e))
        ok = not l2 and e.value is not None and re.search(pattern, e.value) is not None
        results.append(("load %r" % path, ok, 0, (e.value or b"").decode()))
    for name, ok, rc, msg in results:
        print("%s %s: rc=%d %s" % ("ok" if ok else "FAIL", name, rc, msg))
    return 0 if all(r[1] for r in results) else 1


if args.runtime_child:
    sys.exit(runtime_child())

rt_layer = tmp("runtime_layer.so")


def child_env():
    """The environment for a Python child that loads the runtime: under
    `make check-asan` the runtime is instrumented and needs the ASan runtime
    loaded first (python itself is not instrumented)."""
    env = dict(os.environ)
    lib = os.path.join(args.lib, "libseqmix_runtime.so")
    nm = subprocess.run([args.nm, "-D", "--undefined-only", lib],
                        capture_output=True, text=True)
    if "__asan_init" in nm.stdout:
        clang = os.path.join(os.path.dirname(args.nm), "clang")
        asan = subprocess.run([clang, "-print-file-name=libclang_rt.asan-x86_64.so"],
                              capture_output=True, text=True).stdout.strip()
        env["LD_PRELOAD"] = asan
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def runtime_results(p, out, err):
    child = subprocess.run([sys.executable, __file__, "--bin", args.bin, "--lib", args.lib,
                            "--examples", args.examples, "--nm", args.nm, "--tmp", args.tmp,
                            "--runtime-child", "--layer", rt_layer],
                           capture_output=True, text=True, timeout=300, env=child_env())
    if child.returncode < 0:
        return "the runtime calls crashed the process (signal %d):\n%s" % (
            -child.returncode, child.stdout[-3000:])
    lines = child.stdout.splitlines()
    runtime_results.count = len(lines)
    bad = [l for l in lines if not l.startswith("ok ")]
    if child.returncode != 0 or bad:
        return "runtime calls failed:\n" + "\n".join(bad or lines) + child.stderr
    return None


runtime_results.count = 0
case("runtime", [SEQMIXC, gla, "-o", rt_layer], "ok", check=runtime_results)

# ---------------------------------------------------------------------------
# Run everything (two at a time) and report.
# ---------------------------------------------------------------------------
def run_with_then(c):
    r = run_case(c)
    if r is None and c.then:
        r = run_case(c.then)
    return r


ordered = sorted(range(len(CASES)), key=lambda i: CASES[i].group == "symbols")
failures = []
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    for i, r in zip(ordered, pool.map(lambda i: run_with_then(CASES[i]), ordered)):
        if r is not None:
            failures.append((i, r))
for i, r in sorted(failures):
    c = CASES[i]
    print("FAIL [%s] %s\n  %s" % (c.group, " ".join(map(str, c.cmd)), r.replace("\n", "\n  ")))
groups = {}
for c in CASES:
    groups[c.group] = groups.get(c.group, 0) + 1
groups["runtime"] += runtime_results.count
total = len(CASES) + runtime_results.count
print("bad-input suite: " + ", ".join("%s %d" % kv for kv in sorted(groups.items())))
print("bad-input suite: %d inputs, %d failed" % (total, len(failures)))
sys.exit(1 if failures else 0)
