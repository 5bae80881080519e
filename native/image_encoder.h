// ImageEncoder: an ORT session on a vision model. encodeFiles decodes on a pool of threads while
// batched inference runs, and returns L2-normalised embeddings plus one error per failed file.
// Each decoder thread reads a file once (open, fstat on that descriptor, size limit, whole read),
// hashes those bytes (SHA-256, for the catalog's content hash) and decodes them from memory.
#pragma once
#include <napi.h>

#include <memory>

#include "model_wrap.h"
#include "ort_model.h"
#include "preprocess.h"

namespace memery {

struct ImageModel {
  std::unique_ptr<OrtModel> model;
  size_t input = 0, output = 0;
  int size = 224;       // model input H = W
  int64_t dim = 0;      // embedding width
  int64_t fixedBatch = 0;  // >0 when the model's batch dimension is fixed
  PreprocessSpec spec;
  // Runs `n` CHW images through the model; writes n*dim normalised floats to `out`.
  void Run(const float *chw, size_t n, float *out);
};

class ImageEncoder : public ModelWrap<ImageEncoder, ImageModel> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  explicit ImageEncoder(const Napi::CallbackInfo &info) : ModelWrap(info, "ImageEncoder", "image encoder") {}

 private:
  static Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value EncodeFiles(const Napi::CallbackInfo &info);
  Napi::Value EncodeTensor(const Napi::CallbackInfo &info);
  void FillInfo(Napi::Env env, const ImageModel &m, Napi::Object &o) override;
};

}  // namespace memery
