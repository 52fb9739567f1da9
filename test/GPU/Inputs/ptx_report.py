"""Compiles every example spec in every form for the cuda target, runs
ptxas -v on the PTX and prints one line per kernel: registers, shared
memory, stack, spills and its mma.sync instructions (tensor cores); a
kernel with mma.sync must not spill. A form the family does not have is skipped (the
CPU target rejects it the same way); any other failure, a ptxas error or a
kernel past the limits, or ptxas seeing an access out of bounds, fails
the run. Shared memory here is ptxas's static count: the scratch buffers
live in the dynamic shared memory, whose size each launch gives.

usage: ptx_report.py SEQMIXC PTXAS ARCH OUTDIR EXAMPLE.json...
"""
import os
import re
import subprocess
import sys

FORMS = ("auto", "parallel", "chunked", "recurrent")
# Errors that say the family has no such form (the same on every target).
NO_FORM = ("has one form", "takes no initial state")
MAX_REGISTERS = 255
MAX_SHARED = 227 * 1024

seqmixc, ptxas, arch, outdir = sys.argv[1:5]
os.makedirs(outdir, exist_ok=True)
failed = 0
for spec in sys.argv[5:]:
    family = os.path.splitext(os.path.basename(spec))[0]
    for form in FORMS:
        ptx = os.path.join(outdir, "%s.%s.ptx" % (family, form))
        c = subprocess.run([seqmixc, spec, "--target=cuda", "--gpu-arch=" + arch,
                            "--form=" + form, "--emit=ptx", "-o", ptx],
                           capture_output=True, text=True)
        if c.returncode != 0:
            if any(s in c.stderr for s in NO_FORM):
                print("SKIP %s %s: no such form" % (family, form))
                continue
            print("FAIL %s %s: seqmixc: %s" % (family, form, c.stderr.strip().splitlines()[0]))
            failed += 1
            continue
        p = subprocess.run([ptxas, "-arch=" + arch, "-v", ptx, "-o", os.devnull],
                           capture_output=True, text=True)
        if p.returncode != 0 or "out of bound" in p.stderr:
            print("FAIL %s %s: ptxas: %s" % (family, form, p.stderr.strip()[:500]))
            failed += 1
            continue
        # mma.sync per kernel, from the PTX text of each entry.
        mmas = {}
        name = None
        with open(ptx) as f:
            for line in f:
                m = re.search(r"\.entry (\w+)", line)
                if m:
                    name = m.group(1)
                    mmas[name] = 0
                elif name and "mma.sync" in line:
                    mmas[name] += 1
        kernel = None
        kernels = []
        for line in p.stderr.splitlines():
            m = re.search(r"Function properties for (\S+)", line)
            if m:
                kernel = {"name": m.group(1)}
                kernels.append(kernel)
            m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
            if m and kernel is not None:
                kernel["stack"], kernel["spill_st"], kernel["spill_ld"] = map(int, m.groups())
            m = re.search(r"Used (\d+) registers", line)
            if m and kernel is not None:
                kernel["regs"] = int(m.group(1))
                s = re.search(r"(\d+) bytes smem", line)
                kernel["smem"] = int(s.group(1)) if s else 0
        if not kernels:
            print("FAIL %s %s: no kernel in the PTX" % (family, form))
            failed += 1
        for k in kernels:
            mma = mmas.get(k["name"], 0)
            spilled = k.get("spill_st", 0) + k.get("spill_ld", 0)
            ok = (k.get("regs", 0) <= MAX_REGISTERS and k.get("smem", 0) <= MAX_SHARED
                  and not (mma and spilled))
            print("%s %s %s %s: %d registers, %d bytes smem, %d bytes stack, "
                  "%d/%d bytes spilled (stores/loads), %d mma.sync"
                  % ("PASS" if ok else "FAIL", family, form, k["name"], k.get("regs", -1),
                     k.get("smem", 0), k.get("stack", 0), k.get("spill_st", 0),
                     k.get("spill_ld", 0), mma))
            failed += not ok
print("%d failed" % failed)
sys.exit(1 if failed else 0)
