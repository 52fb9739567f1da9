"""Writes layer specs with another dtype: with_dtype.py DTYPE OUTDIR SPEC...

Each SPEC (a JSON layer spec) is written to OUTDIR under its own file name
with its "dtype" field set to DTYPE; a field given as NAME=VALUE after the
dtype (JSON values) is set too, in every spec.
"""
import json
import os
import sys

dtype, outdir, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
fields = dict(a.split("=", 1) for a in rest if "=" in a)
os.makedirs(outdir, exist_ok=True)
for path in (a for a in rest if "=" not in a):
    with open(path) as f:
        spec = json.load(f)
    spec["dtype"] = dtype
    for name, value in fields.items():
        spec[name] = json.loads(value)
    with open(os.path.join(outdir, os.path.basename(path)), "w") as f:
        json.dump(spec, f, indent=1)
