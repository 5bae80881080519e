// Reading option objects passed from TypeScript (already validated there by zod).
#pragma once
#include <napi.h>

#include "common.h"
#include "ort_model.h"
#include "preprocess.h"

namespace memery {

inline ModelOptions ReadModelOptions(const Napi::Object &o) {
  ModelOptions m;
  m.provider = StringOpt(o, "provider", "cpu");
  m.threads = static_cast<int>(NumberOpt(o, "threads", 0));
  m.spinning = BoolOpt(o, "spinning", false);
  m.optimizedPath = StringOpt(o, "optimizedPath", "");
  m.optimization = StringOpt(o, "optimization", "all");
  m.prepack = BoolOpt(o, "prepack", true);
  return m;
}

inline PreprocessSpec ReadSpec(const Napi::Object &o) {
  PreprocessSpec s;
  s.size = static_cast<int>(NumberOpt(o, "size", 224));
  Napi::Value mean = o.Get("mean"), std = o.Get("std");
  for (uint32_t c = 0; c < 3; c++) {
    if (mean.IsArray()) s.mean[c] = mean.As<Napi::Array>().Get(c).As<Napi::Number>().FloatValue();
    if (std.IsArray()) s.std[c] = std.As<Napi::Array>().Get(c).As<Napi::Number>().FloatValue();
  }
  s.shrinkOnLoad = BoolOpt(o, "shrinkOnLoad", true);
  s.shrinkMargin = NumberOpt(o, "shrinkMargin", s.shrinkMargin);
  s.maxPixels = NumberOpt(o, "maxPixels", s.maxPixels);
  s.autorotate = BoolOpt(o, "autorotate", false);
  return s;
}

}  // namespace memery
