// Reading option objects passed from TypeScript (already validated there by zod).
#pragma once
#include <napi.h>

#include "common.h"
#include "ort_model.h"
#include "preprocess.h"

namespace memery {

// Every key is required: the TS wrappers pass the whole parsed (defaulted) object.
inline ModelOptions ReadModelOptions(const Napi::Object &o) {
  ModelOptions m;
  m.provider = StringKey(o, "provider");
  m.threads = static_cast<int>(NumberKey(o, "threads"));
  m.spinning = BoolKey(o, "spinning");
  m.optimizedPath = StringKey(o, "optimizedPath");  // "" for none
  m.optimization = StringKey(o, "optimization");
  m.prepack = BoolKey(o, "prepack");
  return m;
}

inline void ReadTriple(const Napi::Object &o, const char *key, float out[3]) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) ThrowExpected(v, "an array of 3 numbers", key);
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t c = 0; c < 3; c++) {
    Napi::Value e = a.Get(c);
    if (!e.IsNumber()) ThrowExpected(e, "a number", key);
    out[c] = e.As<Napi::Number>().FloatValue();
  }
}

inline PreprocessSpec ReadSpec(const Napi::Object &o) {
  PreprocessSpec s;
  s.size = static_cast<int>(NumberKey(o, "size"));
  ReadTriple(o, "mean", s.mean);
  ReadTriple(o, "std", s.std);
  s.shrinkOnLoad = BoolKey(o, "shrinkOnLoad");
  s.shrinkMargin = NumberKey(o, "shrinkMargin");
  s.maxPixels = NumberKey(o, "maxPixels");
  s.autorotate = BoolKey(o, "autorotate");
  return s;
}

// maxFileBytes: a whole number of bytes JS can represent exactly.
inline uint64_t ReadMaxFileBytes(Napi::Env env, const Napi::Object &o) {
  const double v = NumberKey(o, "maxFileBytes");
  if (!(v >= 0) || v > 9007199254740991.0) throw ToJsError(env, "E_USAGE", "Expected a number of bytes for maxFileBytes");
  return static_cast<uint64_t>(v);
}

}  // namespace memery
