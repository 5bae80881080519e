// memery native addon: module entry. Every heavy operation is an AsyncWorker (see common.h).
#include <napi.h>
#include <vips/vips8>

#include "common.h"
#include "image_encoder.h"
#include "image_ops.h"
#include "ocr_engine.h"
#include "ort_model.h"
#include "preprocess.h"
#include "text_encoder.h"
#include "vector_index.h"

static Napi::Value Versions(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("onnxruntime", Ort::GetVersionString());
  o.Set("libvips", vips_version_string());
  o.Set("cuda", memery::CudaAvailable());
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  memery::EnsureVips();
  env.SetInstanceData(new memery::AddonData());  // deleted by node when this environment ends
  memery::ImageEncoder::Init(env, exports);
  memery::TextEncoder::Init(env, exports);
  memery::VectorIndex::Init(env, exports);
  memery::OcrEngine::Init(env, exports);
  memery::InitImageOps(env, exports);
  exports.Set("versions", Napi::Function::New(env, Versions, "versions"));
  return exports;
}

NODE_API_MODULE(memery, Init)
