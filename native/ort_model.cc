#include "ort_model.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>
#include <thread>

#include "common.h"
#include "threads.h"

namespace memery {

Ort::Env &GlobalOrtEnv() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "memery");
  return env;
}

std::string ShapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

// The CUDA provider is usable only when its shared library sits beside the ONNX Runtime library
// (GetAvailableProviders lists what the build supports, not what is installed).
// The folder of the ONNX Runtime library in use (where the CUDA provider libraries must be).
std::string OrtLibraryDir() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void *>(&OrtGetApiBase), &info) || !info.dli_fname) return ".";
  std::string dir = info.dli_fname;
  auto slash = dir.find_last_of('/');
  return slash == std::string::npos ? "." : dir.substr(0, slash);
}

bool CudaAvailable() {
#ifdef __APPLE__
  return false;  // no CUDA on macOS
#else
  struct stat st;
  return stat((OrtLibraryDir() + "/libonnxruntime_providers_cuda.so").c_str(), &st) == 0;
#endif
}

namespace {
OrtCustomThreadHandle CreateWorkerThread(void *, OrtThreadWorkerFn fn, void *param) {
  auto *t = new std::thread([fn, param] {
    LowerThreadPriority();
    fn(param);
  });
  return reinterpret_cast<OrtCustomThreadHandle>(t);
}

void JoinWorkerThread(OrtCustomThreadHandle handle) {
  auto *t = reinterpret_cast<std::thread *>(const_cast<OrtCustomHandleType *>(handle));
  t->join();
  delete t;
}

std::vector<TensorInfo> ReadInfos(Ort::Session &s, bool inputs) {
  Ort::AllocatorWithDefaultOptions alloc;
  size_t n = inputs ? s.GetInputCount() : s.GetOutputCount();
  std::vector<TensorInfo> out;
  for (size_t i = 0; i < n; i++) {
    TensorInfo t;
    auto name = inputs ? s.GetInputNameAllocated(i, alloc) : s.GetOutputNameAllocated(i, alloc);
    t.name = name.get();
    Ort::TypeInfo ti = inputs ? s.GetInputTypeInfo(i) : s.GetOutputTypeInfo(i);
    if (ti.GetONNXType() == ONNX_TYPE_TENSOR) {
      auto tt = ti.GetTensorTypeAndShapeInfo();
      t.type = tt.GetElementType();
      t.shape = tt.GetShape();
    } else {
      t.type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
    }
    out.push_back(std::move(t));
  }
  return out;
}
}  // namespace

OrtModel::OrtModel(const std::string &path, const ModelOptions &opts) : path_(path) { Init(opts, nullptr); }

OrtModel::OrtModel(const std::string &path, const ModelOptions &opts, const std::string &bytes) : path_(path) {
  Init(opts, &bytes);
}

void OrtModel::Init(const ModelOptions &opts, const std::string *bytes) {
  const std::string &path = path_;
  if (!bytes) {  // (bytes: read and checked by the caller)
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
      throw Error("E_MODEL", "Cannot load model " + path + ": " + std::strerror(errno), path);
    if (!S_ISREG(st.st_mode)) throw Error("E_MODEL", "Expected an ONNX model file but " + path + " is not a file", path);
    if (st.st_size == 0) throw Error("E_MODEL", "Cannot load model " + path + ": the file is empty", path);
  }

  try {
    Ort::SessionOptions so;
    if (opts.threads > 0) so.SetIntraOpNumThreads(opts.threads);
    so.SetInterOpNumThreads(1);
    so.SetCustomCreateThreadFn(CreateWorkerThread);
    so.SetCustomJoinThreadFn(JoinWorkerThread);
    so.SetGraphOptimizationLevel(opts.optimization == "none"    ? GraphOptimizationLevel::ORT_DISABLE_ALL
                                 : opts.optimization == "basic" ? GraphOptimizationLevel::ORT_ENABLE_BASIC
                                                                : GraphOptimizationLevel::ORT_ENABLE_ALL);
    so.AddConfigEntry("session.intra_op.allow_spinning", opts.spinning ? "1" : "0");
    if (!opts.prepack) so.AddConfigEntry("session.disable_prepacking", "1");
    if (!opts.optimizedPath.empty()) {
      so.SetOptimizedModelFilePath(opts.optimizedPath.c_str());
      const std::string &op = opts.optimizedPath;
      if (op.size() > 4 && op.compare(op.size() - 4, 4, ".ort") == 0) so.AddConfigEntry("session.save_model_format", "ORT");
    }
    provider_ = "cpu";
    if (opts.provider == "cuda" || opts.provider == "auto") {
      bool ok = false;
      std::string why = "libonnxruntime_providers_cuda.so (and libonnxruntime_providers_shared.so) are not in " + OrtLibraryDir() +
                        ", beside the ONNX Runtime library (see the README's GPU section)";
      if (CudaAvailable()) {
        try {
          OrtCUDAProviderOptions cuda{};
          so.AppendExecutionProvider_CUDA(cuda);
          ok = true;
        } catch (const Ort::Exception &e) {
          why = e.what();
        }
      }
      if (ok) provider_ = "cuda";
      else if (opts.provider == "cuda")
        throw Error("E_MODEL", "Cannot use provider 'cuda': " + why + " (use provider 'auto' or 'cpu')", path);
    }
    session_ = bytes ? std::make_unique<Ort::Session>(GlobalOrtEnv(), bytes->data(), bytes->size(), so)
                     : std::make_unique<Ort::Session>(GlobalOrtEnv(), path.c_str(), so);
    inputs_ = ReadInfos(*session_, true);
    outputs_ = ReadInfos(*session_, false);
  } catch (const Ort::Exception &e) {
    throw Error("E_MODEL", "Cannot load ONNX model " + path + ": " + e.what(), path);
  }
}

Ort::Value OrtModel::RunEmbedding(const char *const *inNames, const Ort::Value *ins, size_t nIn, const char *outName,
                                  int64_t dim) {
  std::vector<Ort::Value> res;
  try {
    std::lock_guard<std::mutex> lock(run_mutex_);
    // The session's pool threads run at lowered priority: so does the thread that drives the
    // parallel sections, or it outranks them and waits (spins) for them: +60% CPU measured.
    ScopedLowerPriority lower;
    res = session_->Run(Ort::RunOptions{nullptr}, inNames, ins, nIn, &outName, 1);
  } catch (const Ort::Exception &e) {
    throw Error("E_MODEL", std::string("Inference failed in ") + path_ + ": " + e.what(), path_);
  }
  auto shapeOut = res[0].GetTensorTypeAndShapeInfo().GetShape();
  if (shapeOut.size() != 2 || shapeOut[1] != dim)
    throw Error("E_MODEL", "Expected output [batch," + std::to_string(dim) + "] but received " + ShapeString(shapeOut), path_);
  return std::move(res[0]);
}

size_t OrtModel::EmbeddingOutput(const char *const *preferred) const {
  for (const char *const *p = preferred; *p; p++)
    for (size_t i = 0; i < outputs_.size(); i++)
      if (outputs_[i].name == *p && outputs_[i].shape.size() == 2) return i;
  for (size_t i = 0; i < outputs_.size(); i++)
    if (outputs_[i].shape.size() == 2 && outputs_[i].type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) return i;
  std::string names;
  for (auto &o : outputs_) names += (names.empty() ? "" : ", ") + o.name + ShapeString(o.shape);
  throw Error("E_MODEL", "Expected a [batch, dim] float embedding output in " + path_ + " but received " + names, path_);
}

}  // namespace memery
