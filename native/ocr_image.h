// Decoding an image for OCR with libvips: first page/frame, EXIF orientation applied (as OpenCV's
// imread does for PaddleOCR), sRGB 8-bit 3 bands (16-bit scaled, alpha flattened onto white), kept
// whole for the line crops; plus the detector's input: resized after PaddleOCR's DetResizeForTest
// (limit_type 'max': the longer side down to `limit` if larger, never enlarged; both sides then
// rounded to multiples of 32) and normalised with the ImageNet mean/std in BGR channel order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memery {
namespace ocr {

// From read()'s options (OcrReadOptionsSchema in ts/native/ocr.ts, where their defaults live).
struct DecodeParams {
  int limit = 0;          // longest side of the detector input
  double maxPixels = 0;   // refuse larger images (decompression bombs)
  bool autorotate = false;
};

struct OcrImage {
  int width = 0, height = 0;  // after autorotation
  std::vector<uint8_t> rgb;   // width * height * 3
  int detW = 0, detH = 0;
  std::vector<float> det;     // [3, detH, detW], B, G, R planes
};

// PaddleOCR's DetResizeForTest (limit_type 'max') target size.
void DetSize(int w, int h, int limit, int &outW, int &outH);

// Decode `len` bytes; `what` names the image in messages, `path` is the error's path (may be
// empty). Throws memery::Error E_DECODE.
void DecodeForOcr(const uint8_t *data, size_t len, const std::string &what, const std::string &path, const DecodeParams &p,
                  OcrImage &out);

}  // namespace ocr
}  // namespace memery
