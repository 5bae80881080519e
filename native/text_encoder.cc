#include "text_encoder.h"

#include <algorithm>

#include "common.h"
#include "options.h"
#include "embeddings.h"

namespace memery {


namespace {
bool IsIntType(ONNXTensorElementDataType t) {
  return t == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 || t == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
}

Ort::Value IntTensor(const Ort::MemoryInfo &mem, ONNXTensorElementDataType type, std::vector<int64_t> &v64,
                     std::vector<int32_t> &v32, const std::vector<int64_t> &shape) {
  if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64)
    return Ort::Value::CreateTensor<int64_t>(mem, v64.data(), v64.size(), shape.data(), shape.size());
  v32.assign(v64.begin(), v64.end());
  return Ort::Value::CreateTensor<int32_t>(mem, v32.data(), v32.size(), shape.data(), shape.size());
}
}  // namespace

std::vector<float> TextModel::Encode(const std::vector<std::vector<int64_t>> &texts) {
  const size_t n = texts.size();
  std::vector<float> out(n * dim, 0.0f);
  if (n == 0) return out;
  Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const auto &ins = model->inputs();
  const char *outName = model->outputs()[output].name.c_str();
  const size_t step = fixedBatch > 0 ? static_cast<size_t>(fixedBatch) : n;
  for (size_t start = 0; start < n; start += step) {
    size_t count = std::min(step, n - start);
    size_t batch = fixedBatch > 0 ? static_cast<size_t>(fixedBatch) : count;
    size_t len = 1;
    for (size_t i = 0; i < count; i++) len = std::max(len, texts[start + i].size());
    if (seqLen > 0) {
      if (len > static_cast<size_t>(seqLen))
        throw Error("E_USAGE", "Expected at most " + std::to_string(seqLen) + " tokens but received " + std::to_string(len));
      len = static_cast<size_t>(seqLen);
    } else if (contextLength > 0 && len > static_cast<size_t>(contextLength)) {
      // Dynamic length: CLIP's position embeddings still stop at the context length.
      throw Error("E_USAGE", "Expected at most " + std::to_string(contextLength) + " tokens but received " + std::to_string(len));
    }
    std::vector<int64_t> ids(batch * len, 0), maskv(batch * len, 0);
    for (size_t i = 0; i < count; i++) {
      const auto &t = texts[start + i];
      std::copy(t.begin(), t.end(), ids.begin() + i * len);
      std::fill(maskv.begin() + i * len, maskv.begin() + i * len + t.size(), 1);
    }
    std::vector<int64_t> shape = {static_cast<int64_t>(batch), static_cast<int64_t>(len)};
    std::vector<int32_t> ids32, mask32;
    std::vector<Ort::Value> values;
    std::vector<const char *> names;
    values.push_back(IntTensor(mem, ins[this->ids].type, ids, ids32, shape));
    names.push_back(ins[this->ids].name.c_str());
    if (mask >= 0) {
      values.push_back(IntTensor(mem, ins[mask].type, maskv, mask32, shape));
      names.push_back(ins[mask].name.c_str());
    }
    Ort::Value res = model->RunEmbedding(names.data(), values.data(), values.size(), outName, dim);
    const float *o = res.GetTensorData<float>();
    std::copy(o, o + count * dim, out.begin() + start * dim);
  }
  L2NormalizeRows(out.data(), n, dim);
  return out;
}

namespace {

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, ModelOptions mo, int contextLength)
      : PromiseWorker(env), path_(std::move(path)), mo_(std::move(mo)), ctx_(contextLength) {}
  void Run() override {
    auto m = std::make_shared<TextModel>();
    m->model = std::make_unique<OrtModel>(path_, mo_);
    m->contextLength = ctx_;
    const auto &ins = m->model->inputs();
    int ids = -1;
    for (size_t i = 0; i < ins.size(); i++) {
      if (!IsIntType(ins[i].type)) continue;
      const std::string &nm = ins[i].name;
      if (nm.find("mask") != std::string::npos) m->mask = static_cast<int>(i);
      else if (ids < 0) ids = static_cast<int>(i);
    }
    if (ids < 0 || ins.size() > 2 || ins[ids].shape.size() != 2) {
      std::string got;
      for (auto &i : ins) got += (got.empty() ? "" : ", ") + i.name + ShapeString(i.shape);
      throw Error("E_MODEL", "Expected a text model with integer token ids [batch, sequence] in " + path_ + " but received inputs " + got, path_);
    }
    m->ids = static_cast<size_t>(ids);
    m->seqLen = ins[ids].shape[1] > 0 ? ins[ids].shape[1] : -1;
    m->fixedBatch = ins[ids].shape[0] > 0 ? ins[ids].shape[0] : 0;
    static const char *const preferred[] = {"text_embeds", "embedding", "embeddings", "text_features", nullptr};
    m->output = m->model->EmbeddingOutput(preferred);
    m->dim = m->model->outputs()[m->output].shape[1];
    if (m->dim <= 0) {
      // Width unknown from the graph: learn it from one run of [start, end].
      Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
      size_t len = m->seqLen > 0 ? m->seqLen : 2;
      std::vector<int64_t> idv(len, 0), mk(len, 0);
      idv[0] = 49406; idv[1] = 49407; mk[0] = mk[1] = 1;
      std::vector<int64_t> shape = {1, static_cast<int64_t>(len)};
      std::vector<int32_t> a, b;
      std::vector<Ort::Value> vals;
      std::vector<const char *> names;
      vals.push_back(IntTensor(mem, ins[ids].type, idv, a, shape));
      names.push_back(ins[ids].name.c_str());
      if (m->mask >= 0) { vals.push_back(IntTensor(mem, ins[m->mask].type, mk, b, shape)); names.push_back(ins[m->mask].name.c_str()); }
      const char *outName = m->model->outputs()[m->output].name.c_str();
      auto r = m->model->session().Run(Ort::RunOptions{nullptr}, names.data(), vals.data(), vals.size(), &outName, 1);
      m->dim = r[0].GetTensorTypeAndShapeInfo().GetShape()[1];
    }
    model_ = m;
  }
  Napi::Value Result(Napi::Env env) override {
    return TextEncoder::Wrap(Data(env).textEncoder, env, model_);
  }

 private:
  std::string path_;
  ModelOptions mo_;
  int ctx_;
  std::shared_ptr<TextModel> model_;
};

class EncodeWorker : public PromiseWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<TextModel> m, std::vector<std::vector<int64_t>> texts)
      : PromiseWorker(env), m_(std::move(m)), texts_(std::move(texts)) {}
  void Run() override { out_ = m_->Encode(texts_); }
  Napi::Value Result(Napi::Env env) override {
    auto buf = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), buf.Data());
    return buf;
  }

 private:
  std::shared_ptr<TextModel> m_;
  std::vector<std::vector<int64_t>> texts_;
  std::vector<float> out_;
};


}  // namespace

Napi::Object TextEncoder::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "TextEncoder",
                                 {StaticMethod<&TextEncoder::Load>("load"), InstanceMethod<&TextEncoder::Encode>("encode"),
                                  InfoMethod(), CloseMethod()});
  Data(env).textEncoder = Napi::Persistent(f);
  exports.Set("TextEncoder", f);
  return exports;
}

Napi::Value TextEncoder::Load(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "Expected a model path (string)");
  Napi::Object mo = ObjectArg(info[1], "options");
  int ctx = static_cast<int>(NumberKey(mo, "contextLength"));
  return Queue(new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), ReadModelOptions(mo), ctx));
}

Napi::Value TextEncoder::Encode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto m = Model(env);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "Expected an array of token id arrays");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::vector<int64_t>> texts(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (v.IsTypedArray()) {
      // Int32Array only: As<Int32Array>() does not check, and a smaller element type (a
      // Uint8Array, say) would be read past its end (found by AddressSanitizer).
      if (v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
        throw Napi::TypeError::New(env, "Expected an Int32Array or an array of numbers for the token ids of each text");
      auto ta = v.As<Napi::Int32Array>();
      texts[i].assign(ta.Data(), ta.Data() + ta.ElementLength());
    } else if (v.IsArray()) {
      Napi::Array a = v.As<Napi::Array>();
      texts[i].resize(a.Length());
      for (uint32_t j = 0; j < a.Length(); j++) texts[i][j] = a.Get(j).As<Napi::Number>().Int64Value();
    } else {
      throw Napi::TypeError::New(env, "Expected an array of token id arrays");
    }
    if (texts[i].empty()) throw ToJsError(env, "E_USAGE", "Expected at least one token id per text");
  }
  return Queue(new EncodeWorker(env, m, std::move(texts)));
}

void TextEncoder::FillInfo(Napi::Env env, const TextModel &m, Napi::Object &o) {
  o.Set("input", m.model->inputs()[m.ids].name);
  o.Set("mask", m.mask >= 0 ? Napi::Value(Napi::String::New(env, m.model->inputs()[m.mask].name)) : env.Null());
  o.Set("output", m.model->outputs()[m.output].name);
  o.Set("sequenceLength", Napi::Number::New(env, static_cast<double>(m.seqLen)));
  o.Set("dim", Napi::Number::New(env, static_cast<double>(m.dim)));
}

}  // namespace memery
