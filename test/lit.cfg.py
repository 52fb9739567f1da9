# lit configuration of the seqmix tests (FileCheck, drivers, integration).
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "SEQMIX"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.seqmix_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "lit.site.cfg.py",
                   "Inputs"]

llvm_config.with_system_environment(["HOME", "TMPDIR", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
config.substitutions.append(("%python", sys.executable))
config.substitutions.append(("%examples", os.path.join(config.seqmix_src_root, "examples")))
config.substitutions.append(("%seqmix_src", config.seqmix_src_root))
config.substitutions.append(("%seqmix_obj", config.seqmix_obj_root))
llvm_config.add_tool_substitutions(["seqmix-opt", "seqmixc", "seqmix-run-layer-c",
                                    "seqmix-bench"],
                                   [config.seqmix_tools_dir])
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["not", "count", "split-file", "llvm-nm", "llvm-readelf"],
                                   [config.llvm_tools_dir])

# The project's venv with PyTorch (scripts/install-deps.sh): tests that time
# or compare against PyTorch peers say REQUIRES: torch.
import subprocess
try:
    if subprocess.run([config.seqmix_python, "-c", "import torch"],
                      capture_output=True, timeout=120).returncode == 0:
        config.available_features.add("torch")
except (OSError, subprocess.TimeoutExpired):
    pass
config.substitutions.append(("%seqmix_python", config.seqmix_python))

# The CUDA toolkit (ptxas, libdevice) for the cuda target's tests, found as
# seqmixc finds it: REQUIRES: ptxas; %ptxas runs it.
llvm_config.with_system_environment(["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"])
import shutil
ptxas = None
for var in ("CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"):
    d = os.environ.get(var)
    if d and os.access(os.path.join(d, "bin", "ptxas"), os.X_OK):
        ptxas = os.path.join(d, "bin", "ptxas")
        break
ptxas = ptxas or shutil.which("ptxas")
if not ptxas and os.access("/usr/local/cuda/bin/ptxas", os.X_OK):
    ptxas = "/usr/local/cuda/bin/ptxas"
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# A machine with the CUDA driver (libcuda.so.1) takes other paths in the
# runtime's tests.
import ctypes.util
try:
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass

# Tests that run AVX512-BF16 dot products (--bf16-dot=on) on this machine
# say REQUIRES: avx512bf16.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("flags") and "avx512_bf16" in line.split():
                config.available_features.add("avx512bf16")
                break
except OSError:
    pass

# Under `make check-asan` the seqmix tools are instrumented but Debian's
# libLLVM/libMLIR are not: LLVM's allocator headers, inlined into the tools,
# poison the rest of each slab they start, and the uninstrumented libraries
# then hand out memory from it without unpoisoning (a false use-after-poison
# in MLIR's own parser). Manual poisoning is therefore off in these runs.
asan_options = os.environ.get("ASAN_OPTIONS", "")
config.environment["ASAN_OPTIONS"] = (
    asan_options + (":" if asan_options else "") + "allow_user_poisoning=0")
