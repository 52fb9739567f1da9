//===- Runtime.cpp - load and call compiled seqmix layers (no MLIR) -------===//
//
// A compiled layer is a shared library exporting
//   - `_mlir_ciface_<name>(desc *arg0, ..., desc *argN)`: every input, then
//     every output, each as an MLIR memref descriptor
//     {alloc, aligned, offset, sizes[rank], strides[rank]};
//   - `seqmix_abi_metadata`: a NUL-terminated text describing the arguments.
//
//===----------------------------------------------------------------------===//
#include "seqmix-c/Runtime.h"

#include "Cuda.h"
#include "Error.h"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {
struct ArgDesc {
  std::string name;
  bool output = false;
  /// The element type as the metadata names it: f32, bf16, f16 or complex64.
  std::string type = "f32";
  std::vector<std::string> dimNames;
  std::vector<int64_t> dims; // -1: dynamic
};

struct Layer {
  void *handle = nullptr;
  void *entry = nullptr;
  std::string metadata;
  std::string name;
  std::vector<ArgDesc> args;
  /// Largest size a named dimension may take ("limit" lines).
  std::map<std::string, int64_t> limits;
  /// The "forms", "costs" and "cost-model" lines, without their keys.
  std::string forms, costModel;
  std::vector<std::string> costs;
  /// A cuda layer's architecture ("target cuda sm_90"), and the table of
  /// driver functions it calls through (filled at load).
  std::string cudaArch;
  seqmix_runtime::SeqmixCudaApi *cuda = nullptr;
};

using seqmix_runtime::setError;

/// Parses the "seqmix-abi 1" metadata text.
bool parseMetadata(const std::string &text, Layer &layer, std::string &err) {
  std::istringstream in(text);
  std::string line;
  bool header = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key))
      continue;
    if (key == "seqmix-abi") {
      int v = 0;
      ls >> v;
      if (v != 1) {
        err = "unsupported seqmix ABI version " + std::to_string(v) +
              " (this runtime reads 1)";
        return false;
      }
      header = true;
    } else if (key == "name") {
      ls >> layer.name;
    } else if (key == "forms" || key == "costs" || key == "cost-model") {
      std::string rest;
      std::getline(ls >> std::ws, rest);
      if (key == "forms")
        layer.forms = rest;
      else if (key == "costs")
        layer.costs.push_back(rest);
      else
        layer.costModel = rest;
    } else if (key == "target") {
      std::string target;
      if (!(ls >> target) || target != "cuda" || !(ls >> layer.cudaArch)) {
        err = "malformed metadata line (expected 'target cuda sm_NN'): " + line;
        return false;
      }
    } else if (key == "limit") {
      std::string dim;
      int64_t max = -1;
      if (!(ls >> dim >> max) || max < 1) {
        err = "malformed metadata line: " + line;
        return false;
      }
      layer.limits[dim] = max;
    } else if (key == "arg") {
      ArgDesc a;
      std::string dir, type, dim;
      ls >> dir >> a.name >> type;
      if ((dir != "in" && dir != "out") ||
          (type != "f32" && type != "bf16" && type != "f16" &&
           type != "complex64")) {
        err = "malformed metadata line: " + line;
        return false;
      }
      a.output = dir == "out";
      a.type = type;
      while (ls >> dim) {
        size_t colon = dim.rfind(':');
        if (colon == std::string::npos) {
          err = "malformed dimension '" + dim + "' in metadata line: " + line;
          return false;
        }
        a.dimNames.push_back(dim.substr(0, colon));
        std::string size = dim.substr(colon + 1);
        int64_t n = -1;
        if (size != "?") {
          char *end = nullptr;
          errno = 0;
          long long v = std::strtoll(size.c_str(), &end, 10);
          if (size.empty() || *end || errno || v < 1) {
            err = "malformed dimension '" + dim + "' in metadata line: " + line;
            return false;
          }
          n = v;
        }
        a.dims.push_back(n);
      }
      layer.args.push_back(std::move(a));
    }
  }
  if (!header) {
    err = "missing 'seqmix-abi 1' header in layer metadata";
    return false;
  }
  if (layer.args.empty()) {
    err = "layer metadata lists no arguments";
    return false;
  }
  return true;
}

std::string shapeString(const int64_t *shape, int32_t ndim) {
  std::string s = "[";
  for (int32_t i = 0; i < ndim; ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <size_t... I>
void callN(void *fn, void **d, std::index_sequence<I...>) {
  using Fn = void (*)(decltype((void)I, static_cast<void *>(nullptr))...);
  reinterpret_cast<Fn>(fn)(d[I]...);
}

constexpr int32_t kMaxArgs = 16;
/// The alignment the compiled code needs of every buffer (that of f32).
constexpr uintptr_t kDataAlignment = 4;

template <size_t... N>
void dispatch(void *fn, void **d, int32_t n, std::index_sequence<N...>) {
  ((n == static_cast<int32_t>(N) ? callN(fn, d, std::make_index_sequence<N>())
                                 : void()),
   ...);
}
} // namespace

struct seqmix_layer : Layer {};

extern "C" {

seqmix_layer *seqmix_layer_from_entry(void *entry, const char *metadata,
                                      char **error) {
  auto *layer = new seqmix_layer();
  layer->entry = entry;
  layer->metadata = metadata ? metadata : "";
  std::string err;
  if (!entry) {
    setError(error, "no entry point given");
    delete layer;
    return nullptr;
  }
  if (!parseMetadata(layer->metadata, *layer, err)) {
    setError(error, err);
    delete layer;
    return nullptr;
  }
  if (static_cast<int32_t>(layer->args.size()) > kMaxArgs) {
    setError(error, "layer has more than 16 arguments");
    delete layer;
    return nullptr;
  }
  return layer;
}

seqmix_layer *seqmix_layer_load(const char *path, char **error) {
  if (!path || !*path) {
    setError(error, "cannot load compiled layer: no path given");
    return nullptr;
  }
  // `path` names a file: without a slash dlopen would search the library
  // path instead of the current directory.
  std::string file = path;
  if (file.find('/') == std::string::npos)
    file = "./" + file;
  void *handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    setError(error, std::string("cannot load compiled layer: ") + dlerror());
    return nullptr;
  }
  const char *meta =
      static_cast<const char *>(dlsym(handle, "seqmix_abi_metadata"));
  if (!meta) {
    setError(
        error,
        std::string(path) +
            " is not a seqmix layer: it has no seqmix_abi_metadata symbol");
    dlclose(handle);
    return nullptr;
  }
  Layer probe;
  std::string err;
  if (!parseMetadata(meta, probe, err)) {
    setError(error, std::string(path) + ": " + err);
    dlclose(handle);
    return nullptr;
  }
  std::string sym = "_mlir_ciface_" + probe.name;
  void *entry = dlsym(handle, sym.c_str());
  if (!entry) {
    setError(error, std::string(path) + ": entry point " + sym + " not found");
    dlclose(handle);
    return nullptr;
  }
  seqmix_layer *layer = seqmix_layer_from_entry(entry, meta, error);
  if (!layer) {
    dlclose(handle);
    return nullptr;
  }
  layer->handle = handle;
  if (!layer->cudaArch.empty() &&
      !seqmix_runtime::attachCuda(handle, layer->cudaArch, layer->cuda, err)) {
    setError(error, std::string(path) + ": " + err);
    seqmix_layer_free(layer);
    return nullptr;
  }
  return layer;
}

void seqmix_layer_free(seqmix_layer *layer) {
  if (!layer)
    return;
  if (layer->handle)
    dlclose(layer->handle);
  delete layer;
}

const char *seqmix_layer_metadata(const seqmix_layer *layer) {
  return layer ? layer->metadata.c_str() : "";
}

int32_t seqmix_layer_num_args(const seqmix_layer *layer) {
  return layer ? static_cast<int32_t>(layer->args.size()) : 0;
}

const char *seqmix_layer_arg_name(const seqmix_layer *layer, int32_t i) {
  if (!layer || i < 0 || i >= seqmix_layer_num_args(layer))
    return nullptr;
  return layer->args[i].name.c_str();
}

int32_t seqmix_layer_arg_is_output(const seqmix_layer *layer, int32_t i) {
  if (!layer || i < 0 || i >= seqmix_layer_num_args(layer))
    return 0;
  return layer->args[i].output ? 1 : 0;
}

const char *seqmix_layer_target(const seqmix_layer *layer) {
  return layer && !layer->cudaArch.empty() ? "cuda" : "cpu";
}

int32_t seqmix_layer_set_stream(seqmix_layer *layer, void *stream,
                                char **error) {
  if (!layer || !layer->cuda) {
    setError(error,
             "seqmix_layer_set_stream: " +
                 std::string(layer ? "layer " + layer->name + " runs on the CPU"
                                   : "no layer"));
    return 1;
  }
  layer->cuda->stream = stream;
  if (error)
    *error = nullptr;
  return 0;
}

const char *seqmix_layer_name(const seqmix_layer *layer) {
  return layer ? layer->name.c_str() : "";
}

static const ArgDesc *argAt(const seqmix_layer *layer, int32_t i) {
  if (!layer || i < 0 || i >= seqmix_layer_num_args(layer))
    return nullptr;
  return &layer->args[i];
}

const char *seqmix_layer_arg_dtype(const seqmix_layer *layer, int32_t i) {
  const ArgDesc *a = argAt(layer, i);
  return a ? a->type.c_str() : nullptr;
}

int32_t seqmix_layer_arg_ndim(const seqmix_layer *layer, int32_t i) {
  const ArgDesc *a = argAt(layer, i);
  return a ? static_cast<int32_t>(a->dims.size()) : 0;
}

int64_t seqmix_layer_arg_dim(const seqmix_layer *layer, int32_t i, int32_t d) {
  const ArgDesc *a = argAt(layer, i);
  if (!a || d < 0 || static_cast<size_t>(d) >= a->dims.size())
    return 0;
  return a->dims[d];
}

const char *seqmix_layer_arg_dim_name(const seqmix_layer *layer, int32_t i,
                                      int32_t d) {
  const ArgDesc *a = argAt(layer, i);
  if (!a || d < 0 || static_cast<size_t>(d) >= a->dimNames.size())
    return nullptr;
  return a->dimNames[d].c_str();
}

int64_t seqmix_layer_dim_limit(const seqmix_layer *layer, const char *dim) {
  if (!layer || !dim)
    return -1;
  auto it = layer->limits.find(dim);
  return it == layer->limits.end() ? -1 : it->second;
}

const char *seqmix_layer_forms(const seqmix_layer *layer) {
  return layer ? layer->forms.c_str() : "";
}

int32_t seqmix_layer_num_cost_lines(const seqmix_layer *layer) {
  return layer ? static_cast<int32_t>(layer->costs.size()) : 0;
}

const char *seqmix_layer_cost_line(const seqmix_layer *layer, int32_t i) {
  if (!layer || i < 0 || i >= seqmix_layer_num_cost_lines(layer))
    return nullptr;
  return layer->costs[i].c_str();
}

const char *seqmix_layer_cost_model(const seqmix_layer *layer) {
  return layer ? layer->costModel.c_str() : "";
}

int32_t seqmix_layer_call(seqmix_layer *layer, const seqmix_tensor *args,
                          int32_t nargs, char **error) {
  if (!layer) {
    setError(error, "no layer");
    return 1;
  }
  const int32_t expected = seqmix_layer_num_args(layer);
  if (nargs != expected) {
    setError(error, "layer " + layer->name + " takes " +
                        std::to_string(expected) +
                        " tensors (inputs then outputs), got " +
                        std::to_string(nargs));
    return 1;
  }
  if (!args) {
    setError(error, "the args array is NULL; layer " + layer->name + " takes " +
                        std::to_string(expected) +
                        " tensors (inputs then outputs)");
    return 1;
  }
  std::map<std::string, std::pair<int64_t, std::string>> bound;
  std::vector<std::vector<int64_t>> descs(nargs);
  std::vector<void *> ptrs(nargs);
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges(nargs);
  for (int32_t i = 0; i < nargs; ++i) {
    const ArgDesc &a = layer->args[i];
    const seqmix_tensor &t = args[i];
    const int32_t rank = static_cast<int32_t>(a.dims.size());
    if (t.ndim != rank) {
      setError(error, "argument '" + a.name + "' must have rank " +
                          std::to_string(rank) + ", got rank " +
                          std::to_string(t.ndim));
      return 1;
    }
    if (rank > 0 && !t.shape) {
      setError(error, "argument '" + a.name + "' has rank " +
                          std::to_string(rank) +
                          " but its shape array is NULL");
      return 1;
    }
    if (!t.data) {
      setError(error, "argument '" + a.name + "' has no data (NULL)");
      return 1;
    }
    if (layer->cuda && !seqmix_runtime::isDeviceMemory(t.data)) {
      setError(error, "argument '" + a.name +
                          "' is not in GPU memory: this layer runs on the "
                          "GPU (" +
                          layer->cudaArch + ") and takes device pointers");
      return 1;
    }
    const uint64_t elemBytes = a.type == "complex64" ? 8
                               : a.type == "f32"     ? 4
                                                     : 2;
    // Elements are read as their scalar type (complex<f32> as two floats):
    // aligned to its size.
    // A cuda layer copies blocks of its inputs with 16-byte cp.async.
    const uintptr_t alignment =
        layer->cuda ? 16 : std::min<uint64_t>(elemBytes, kDataAlignment);
    if (reinterpret_cast<uintptr_t>(t.data) % alignment != 0) {
      setError(error, "argument '" + a.name +
                          "' is not aligned: its data must be aligned to " +
                          std::to_string(alignment) + " bytes");
      return 1;
    }
    uint64_t elems = 1;
    for (int32_t d = 0; d < rank; ++d) {
      int64_t s = t.shape[d];
      if (s < 1) {
        setError(error, "dimension " + a.dimNames[d] + " of argument '" +
                            a.name + "' is " + std::to_string(s) +
                            "; sizes must be >= 1");
        return 1;
      }
      if (a.dims[d] >= 0 && s != a.dims[d]) {
        setError(error, "argument '" + a.name + "' has shape " +
                            shapeString(t.shape, rank) + " but dimension " +
                            std::to_string(d) + " (" + a.dimNames[d] +
                            ") must be " + std::to_string(a.dims[d]));
        return 1;
      }
      auto limit = layer->limits.find(a.dimNames[d]);
      if (limit != layer->limits.end() && s > limit->second) {
        setError(error,
                 "dimension " + a.dimNames[d] + " of argument '" + a.name +
                     "' is " + std::to_string(s) +
                     ", above this layer's limit of " +
                     std::to_string(limit->second) +
                     " (the parallel form's T x T workspace); compile it "
                     "in another form (--form=chunked or recurrent) "
                     "for longer sequences");
        return 1;
      }
      auto it = bound.find(a.dimNames[d]);
      if (it == bound.end()) {
        bound[a.dimNames[d]] = {s, a.name};
      } else if (it->second.first != s) {
        setError(error, "dimension " + a.dimNames[d] + " is " +
                            std::to_string(it->second.first) + " in '" +
                            it->second.second + "' but " + std::to_string(s) +
                            " in '" + a.name + "'");
        return 1;
      }
      if (__builtin_mul_overflow(elems, static_cast<uint64_t>(s), &elems)) {
        elems = UINT64_MAX;
        break;
      }
    }
    // The compiled code indexes with signed 64-bit offsets in bytes.
    uint64_t bytes = 0;
    uintptr_t begin = reinterpret_cast<uintptr_t>(t.data), end = 0;
    if (__builtin_mul_overflow(elems, elemBytes, &bytes) ||
        bytes > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_add_overflow(begin, bytes, &end)) {
      setError(error, "argument '" + a.name + "' has shape " +
                          shapeString(t.shape, rank) +
                          ", too large to address: its size in bytes does "
                          "not fit in 63 bits");
      return 1;
    }
    // The compiled code assumes row-major contiguous buffers.
    if (t.strides) {
      int64_t expect = 1;
      for (int32_t d = rank - 1; d >= 0; --d) {
        if (t.shape[d] != 1 && t.strides[d] != expect) {
          setError(error,
                   "argument '" + a.name +
                       "' must be row-major contiguous (strides in elements " +
                       shapeString(t.strides, rank) + ")");
          return 1;
        }
        expect *= t.shape[d];
      }
    }
    std::vector<int64_t> &desc = descs[i];
    desc.resize(3 + 2 * rank);
    std::memcpy(&desc[0], &t.data, sizeof(void *));
    std::memcpy(&desc[1], &t.data, sizeof(void *));
    desc[2] = 0;
    int64_t stride = 1;
    for (int32_t d = rank - 1; d >= 0; --d) {
      desc[3 + d] = t.shape[d];
      desc[3 + rank + d] = stride;
      stride *= t.shape[d];
    }
    ptrs[i] = desc.data();
    ranges[i] = {begin, end};
  }
  for (int32_t i = 0; i < nargs; ++i) {
    if (!layer->args[i].output)
      continue;
    for (int32_t j = 0; j < nargs; ++j)
      if (j != i && ranges[i].first < ranges[j].second &&
          ranges[j].first < ranges[i].second) {
        setError(error, "output '" + layer->args[i].name +
                            "' overlaps argument '" + layer->args[j].name +
                            "'");
        return 1;
      }
  }
  std::string cudaErr;
  if (layer->cuda && !seqmix_runtime::beginCudaCall(layer->cuda, cudaErr)) {
    setError(error, cudaErr);
    return 1;
  }
  dispatch(layer->entry, ptrs.data(), nargs,
           std::make_index_sequence<kMaxArgs + 1>());
  if (layer->cuda && !seqmix_runtime::endCudaCall(layer->cuda, cudaErr)) {
    setError(error, cudaErr);
    return 1;
  }
  if (error)
    *error = nullptr;
  return 0;
}

void seqmix_free_error(char *error) { std::free(error); }

} // extern "C"
