// TextEncoder: an ORT session on a text model; token ids (unpadded, one array per text) to
// L2-normalised embeddings. Feeds only the real tokens when the sequence length is dynamic.
#pragma once
#include <napi.h>

#include <memory>

#include "model_wrap.h"
#include "ort_model.h"

namespace memery {

struct TextModel {
  std::unique_ptr<OrtModel> model;
  size_t ids = 0, output = 0;
  int mask = -1;              // attention_mask input, if any
  int64_t seqLen = -1;        // fixed sequence length, or -1 when dynamic
  int64_t fixedBatch = 0;
  int64_t dim = 0;
  int contextLength = 0;  // set at load from JS (TextEncoderOptions: 77 by default); 0 = no limit
  std::vector<float> Encode(const std::vector<std::vector<int64_t>> &texts);
};

class TextEncoder : public ModelWrap<TextEncoder, TextModel> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  explicit TextEncoder(const Napi::CallbackInfo &info) : ModelWrap(info, "TextEncoder", "text encoder") {}

 private:
  static Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value Encode(const Napi::CallbackInfo &info);
  void FillInfo(Napi::Env env, const TextModel &m, Napi::Object &o) override;
};

}  // namespace memery
