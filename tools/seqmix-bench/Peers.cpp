//===- Peers.cpp - embedded CPython running the PyTorch peers -------------===//
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "Peers.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace seqmix;

// LeakSanitizer's switch, present only in sanitizer builds (make check-asan).
extern "C" void __lsan_disable() __attribute__((weak));

namespace {
/// The pending Python exception as text (and cleared).
std::string pythonError() {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  std::string msg = "unknown Python error";
  if (value) {
    if (PyObject *s = PyObject_Str(value)) {
      if (const char *c = PyUnicode_AsUTF8(s))
        msg = c;
      Py_DECREF(s);
    }
  }
  if (type) {
    if (PyObject *n = PyObject_GetAttrString(type, "__name__")) {
      if (const char *c = PyUnicode_AsUTF8(n))
        msg = std::string(c) + ": " + msg;
      Py_DECREF(n);
    }
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return msg;
}

llvm::Error error(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

std::string str(PyObject *dict, const char *key) {
  PyObject *v = PyDict_GetItemString(dict, key); // borrowed
  if (!v || v == Py_None)
    return "";
  const char *c = PyUnicode_AsUTF8(v);
  return c ? c : "";
}
} // namespace

llvm::Expected<std::unique_ptr<PeerRunner>>
PeerRunner::create(const std::string &python, const std::string &script) {
  llvm::StringRef scriptDir = llvm::sys::path::parent_path(script);
  std::string moduleName = llvm::sys::path::stem(script).str();
  if (!llvm::sys::fs::can_execute(python))
    return error("--peers needs the project's Python environment with "
                 "PyTorch, but '" +
                 python +
                 "' is not an executable (run scripts/install-deps.sh "
                 "--python, or name one with --python=<venv>/bin/python)");
  if (Py_IsInitialized())
    return error("the peers' interpreter is already running");
  // The interpreter and PyTorch keep their allocations until the process
  // exits (Py_Finalize is unsafe once PyTorch's threads run): in a sanitizer
  // build they are not leaks to report.
  if (__lsan_disable)
    __lsan_disable();
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  // The interpreter takes its prefix, and so the venv's site-packages, from
  // the executable it is told it is.
  PyStatus st =
      PyConfig_SetBytesString(&config, &config.program_name, python.c_str());
  if (!PyStatus_Exception(st))
    st = PyConfig_SetBytesString(&config, &config.executable, python.c_str());
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  if (!PyStatus_Exception(st))
    st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st))
    return error(std::string("cannot start Python (") + python +
                 "): " + (st.err_msg ? st.err_msg : "unknown error"));
  PyObject *sysPath = PySys_GetObject("path"); // borrowed
  PyObject *dir = PyUnicode_FromString(scriptDir.str().c_str());
  if (!sysPath || !dir || PyList_Insert(sysPath, 0, dir) != 0) {
    Py_XDECREF(dir);
    return error("cannot extend Python's sys.path: " + pythonError());
  }
  Py_DECREF(dir);
  PyObject *mod = PyImport_ImportModule(moduleName.c_str());
  if (!mod)
    return error("--peers: cannot import the peers (" + script + ") with " +
                 python + ": " + pythonError() +
                 " (scripts/install-deps.sh --python installs PyTorch)");
  std::unique_ptr<PeerRunner> r(new PeerRunner());
  r->module = mod;
  // Released while no Python runs, so that worker threads of either side
  // never wait on it.
  PyEval_SaveThread();
  return std::move(r);
}

PeerRunner::~PeerRunner() {
  // PyTorch's threads make Py_Finalize unsafe; the process exits instead.
}

llvm::Expected<std::vector<PeerResult>>
PeerRunner::run(const std::string &layerJson, std::vector<HostTensor> &inputs,
                unsigned reps, unsigned warmup, int threads,
                double maxSeconds) {
  PyGILState_STATE gil = PyGILState_Ensure();
  std::vector<PeerResult> results;
  std::string failure;
  PyObject *buffers = PyList_New(0), *shapes = PyList_New(0);
  for (HostTensor &t : inputs) {
    PyObject *mv = PyMemoryView_FromMemory(
        reinterpret_cast<char *>(t.data.data()),
        static_cast<Py_ssize_t>(t.data.size() * sizeof(float)), PyBUF_WRITE);
    PyObject *shape = PyTuple_New(static_cast<Py_ssize_t>(t.shape.size()));
    for (size_t i = 0; i < t.shape.size(); ++i)
      PyTuple_SET_ITEM(shape, i, PyLong_FromLongLong(t.shape[i]));
    if (t.desc.complex) {
      // Interleaved complex values: a trailing dimension of 2.
      _PyTuple_Resize(&shape, PyTuple_GET_SIZE(shape) + 1);
      PyTuple_SET_ITEM(shape, PyTuple_GET_SIZE(shape) - 1, PyLong_FromLong(2));
    }
    PyList_Append(buffers, mv);
    PyList_Append(shapes, shape);
    Py_DECREF(mv);
    Py_DECREF(shape);
  }
  PyObject *ret = PyObject_CallMethod(
      static_cast<PyObject *>(module), "run", "sOOIIid", layerJson.c_str(),
      buffers, shapes, reps, warmup, threads, maxSeconds);
  Py_DECREF(buffers);
  Py_DECREF(shapes);
  if (!ret || !PyList_Check(ret)) {
    failure = ret ? "peers.run did not return a list" : pythonError();
  } else {
    for (Py_ssize_t i = 0; i < PyList_Size(ret); ++i) {
      PyObject *d = PyList_GetItem(ret, i); // borrowed
      if (!PyDict_Check(d))
        continue;
      PeerResult r;
      r.name = str(d, "name");
      r.form = str(d, "form");
      r.error = str(d, "error");
      if (PyObject *ts = PyDict_GetItemString(d, "times_ms"))
        for (Py_ssize_t j = 0; j < PyList_Size(ts); ++j)
          r.timesMs.push_back(PyFloat_AsDouble(PyList_GetItem(ts, j)));
      if (PyObject *outs = PyDict_GetItemString(d, "outputs"))
        for (Py_ssize_t j = 0; j < PyList_Size(outs); ++j) {
          Py_buffer view;
          if (PyObject_GetBuffer(PyList_GetItem(outs, j), &view,
                                 PyBUF_C_CONTIGUOUS) != 0) {
            r.error = "output " + std::to_string(j) +
                      " is not a contiguous buffer: " + pythonError();
            break;
          }
          const float *p = static_cast<const float *>(view.buf);
          r.outputs.emplace_back(p, p + view.len / sizeof(float));
          PyBuffer_Release(&view);
        }
      results.push_back(std::move(r));
    }
  }
  Py_XDECREF(ret);
  PyGILState_Release(gil);
  if (!failure.empty())
    return error("--peers: " + failure);
  return results;
}
