// Load-time rewrite of the PaddleOCR (PP-LCNetV3) ONNX graphs, exact up to float rounding: the
// exported graphs spell every activation as ~8 element-wise nodes that ONNX Runtime does not fuse
// (Conv -> Mul(scale) -> Add(bias) -> hardswish as Add/Clip/Mul/Div -> Mul(scale) -> Add(bias)
// -> Conv), which cost 35-40% of each model's time. Folded here:
//  - Conv -> Mul/Add by a scalar constant: into the conv's weights and bias;
//  - x * Clip(x + 3, 0, 6) / 6: x * HardSigmoid(x, 1/6, 1/2) (ORT fuses that pair);
//  - Mul(x, s) [-> Add(b)] -> Conv: the scale into the conv's weights, the bias into its bias when
//    the conv has no padding (else an Add(x, b/s) stays: zero padding of s*x+b is not b).
// The ONNX protobuf is read and written by hand (just the fields these rewrites touch; other
// fields are copied as they are).
#pragma once
#include <string>

namespace memery {
namespace ocr {

struct FuseStats {
  int convScale = 0, convBias = 0, hardswish = 0, preScale = 0, preBias = 0;
  int total() const { return convScale + convBias + hardswish + preScale + preBias; }
};

// Returns the rewritten model, or an empty string when the bytes are not a model this understands
// (the caller then loads the file as it is).
std::string FuseModel(const std::string &model, FuseStats *stats = nullptr);

}  // namespace ocr
}  // namespace memery
