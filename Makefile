# seqmix: `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

CMAKE_FLAGS := -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_USE_LINKER=lld -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DPython3_EXECUTABLE=/usr/bin/python3

.PHONY: all deps configure build demo test check-asan fuzz check-format format docs clean python-package

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	ninja -C $(BUILD_DIR) -j$(JOBS)
	@scripts/install-python.sh

# Compile examples/gla.json for this CPU, then run the compiled layer on seeded
# inputs against the double-precision reference.
demo: build
	@mkdir -p $(BUILD_DIR)/demo
	$(BUILD_DIR)/bin/seqmixc examples/gla.json -o $(BUILD_DIR)/demo/gla_layer.so
	$(BUILD_DIR)/bin/seqmixc run examples/gla.json --layer=$(BUILD_DIR)/demo/gla_layer.so \
	  --batch=2 --seq-len=1,64,300

# The Python package with its libraries, for `pip install ./python` into
# another environment (docs/python.md).
python-package: build
	@mkdir -p python/seqmix/_lib
	cp $(BUILD_DIR)/lib/libseqmix_runtime.so $(BUILD_DIR)/lib/libseqmix_compiler.so python/seqmix/_lib/

# Every test (lit + FileCheck, GoogleTest, integration), then one summary line.
test: build
	@scripts/run-tests.sh $(BUILD_DIR)

# The whole test suite on a build with AddressSanitizer and UBSan (build-asan/).
check-asan:
	@scripts/install-deps.sh --sanitizers
	cmake -S . -B build-asan $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DLLVM_USE_SANITIZER=Address;Undefined"
	ninja -C build-asan -j$(JOBS)
	@scripts/run-tests.sh build-asan

# Fuzz the layer-spec parser, the runtime's ABI-metadata parser and the IR
# path (parse, verify, select forms, lower, schedule, ABI metadata) with
# libFuzzer (build-fuzz/), FUZZ_SECONDS each, seeded from examples/ and the
# .mlir tests; a crash is written to build-fuzz/ as crash-<hash>.
FUZZ_SECONDS ?= 60
fuzz: build
	@scripts/install-deps.sh --sanitizers
	cmake -S . -B build-fuzz $(CMAKE_FLAGS) -DSEQMIX_BUILD_FUZZERS=ON \
	  -DLLVM_USE_SANITIZE_COVERAGE=ON "-DLLVM_USE_SANITIZER=Address;Undefined"
	ninja -C build-fuzz -j$(JOBS) seqmix-spec-fuzzer seqmix-metadata-fuzzer \
	  seqmix-ir-fuzzer
	@mkdir -p build-fuzz/spec-corpus build-fuzz/metadata-corpus build-fuzz/ir-corpus
	@cp examples/*.json build-fuzz/spec-corpus/
	@for f in test/Dialect/*.mlir test/Transforms/*.mlir test/Conversion/*.mlir \
	    test/Pipelines/*.mlir; do \
	  awk -v p=build-fuzz/ir-corpus/$$(echo $$f | tr / _) \
	    '/^\/\/ -----/ { n++; next } { print > (p "." n ".mlir") }' $$f; \
	done
	@for f in examples/*.json; do \
	  $(BUILD_DIR)/bin/seqmixc $$f --compile-to=import \
	    -o build-fuzz/ir-corpus/$$(basename $$f .json).mlir 2>/dev/null || true; \
	done
	@for f in examples/*.json; do \
	  $(BUILD_DIR)/bin/seqmixc $$f --emit=metadata \
	    -o build-fuzz/metadata-corpus/$$(basename $$f .json).txt 2>/dev/null || true; \
	done
	cd build-fuzz && bin/seqmix-spec-fuzzer -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=4096 -dict=../unittests/fuzz/spec.dict spec-corpus
	cd build-fuzz && bin/seqmix-metadata-fuzzer -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=4096 metadata-corpus
	cd build-fuzz && bin/seqmix-ir-fuzzer -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=8192 -dict=../unittests/fuzz/ir.dict ir-corpus

check-format:
	@scripts/check-format.sh

format:
	@scripts/check-format.sh --fix

# Refresh the generated dialect and pass docs in docs/.
docs: build
	cp $(BUILD_DIR)/docs/Dialects/SeqMix.md docs/dialect.md
	cp $(BUILD_DIR)/docs/SeqMixPasses.md docs/passes.md

clean:
	rm -rf $(BUILD_DIR)
