// An ONNX Runtime session plus what memery reads from it: input/output names, element types and
// shapes, so both the Hugging Face and the OpenCLIP/immich exports load without configuration.
#pragma once
#include <onnxruntime_cxx_api.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace memery {

struct TensorInfo {
  std::string name;
  ONNXTensorElementDataType type;
  std::vector<int64_t> shape;  // -1 for dynamic dimensions
};

struct ModelOptions {
  std::string provider = "cpu";  // cpu | cuda | auto
  int threads = 0;               // 0 = ORT default (physical cores)
  bool spinning = false;         // intra-op spin waits steal CPU from decoder threads
  std::string optimizedPath;     // cache the optimised graph here when non-empty
  std::string optimization = "all";  // all | basic | none (for a graph optimised earlier)
  bool prepack = true;               // pre-pack weights at load (faster runs, slower load)
};

class OrtModel {
 public:
  OrtModel(const std::string &path, const ModelOptions &opts);
  // The same, from the model's bytes (`path` still names it in messages).
  OrtModel(const std::string &path, const ModelOptions &opts, const std::string &bytes);
  Ort::Session &session() { return *session_; }
  const std::vector<TensorInfo> &inputs() const { return inputs_; }
  const std::vector<TensorInfo> &outputs() const { return outputs_; }
  const std::string &provider() const { return provider_; }
  const std::string &path() const { return path_; }
  // Index of the output that holds the embedding ([batch, dim]); throws E_MODEL if none.
  size_t EmbeddingOutput(const char *const *preferred) const;
  // One Run at a time (runMutex), at the pool threads' lowered priority, with the output `outName`
  // checked to be [batch, dim]. Throws E_MODEL naming the model.
  Ort::Value RunEmbedding(const char *const *inNames, const Ort::Value *ins, size_t nIn, const char *outName, int64_t dim);

 private:
  void Init(const ModelOptions &opts, const std::string *bytes);
  std::string path_;
  std::string provider_;
  std::unique_ptr<Ort::Session> session_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::mutex run_mutex_;
};

Ort::Env &GlobalOrtEnv();
std::string ShapeString(const std::vector<int64_t> &shape);
bool CudaAvailable();

}  // namespace memery
