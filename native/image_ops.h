// Stand-alone image operations (image_ops.cc): decodeForModel (batch preprocess on the decode
// pool), thumbnail, imageInfo, saveRgb, and the internal sha256Hex / sha256Impl.
#pragma once
#include <napi.h>

namespace memery {

// Sets decodeForModel, thumbnail, imageInfo, saveRgb, sha256Hex and sha256Impl on `exports`.
void InitImageOps(Napi::Env env, Napi::Object exports);

}  // namespace memery
