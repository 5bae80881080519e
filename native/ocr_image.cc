#include "ocr_image.h"

#include <vips/vips8>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.h"
#include "preprocess.h"
#include "to_rgb8.h"

using vips::VError;
using vips::VImage;

namespace memery {
namespace ocr {

namespace {

// To sRGB, 8 bits, 3 bands; alpha flattened onto white.
VImage ToRgb8White(VImage img) {
  img = ToSrgbSpace(img);
  if (img.bands() > 4) img = img.extract_band(0, VImage::option()->set("n", 4));
  img = To8Bit(img);
  if (img.bands() == 2 || img.bands() == 4) {
    img = img.flatten(VImage::option()->set("background", std::vector<double>{255.0}));
    if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
  }
  if (img.bands() == 1) img = VImage::bandjoin(std::vector<VImage>{img, img, img});
  return img;
}

}  // namespace

void DetSize(int w, int h, int limit, int &outW, int &outH) {
  double ratio = 1.0;
  if (std::max(w, h) > limit) ratio = static_cast<double>(limit) / std::max(w, h);
  // int(round(x / 32) * 32), at least 32 (Python's round: half to even)
  outH = std::max(static_cast<int>(std::nearbyint(h * ratio / 32.0) * 32), 32);
  outW = std::max(static_cast<int>(std::nearbyint(w * ratio / 32.0) * 32), 32);
}

void DecodeForOcr(const uint8_t *data, size_t len, const std::string &what, const std::string &path, const DecodeParams &p,
                  OcrImage &out) {
  EnsureVips();
  FindBufferLoader(data, len, what, path);
  vips_error_clear();
  try {
    VImage img = VImage::new_from_buffer(data, len, "",
                                         VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_TRUNCATED));
    if (static_cast<double>(img.width()) * img.height() > p.maxPixels) {
      char buf[160];
      snprintf(buf, sizeof buf, ": %d x %d pixels is over the limit of %.0f pixels", img.width(), img.height(), p.maxPixels);
      throw Error("E_DECODE", "Cannot decode " + what + buf, path);
    }
    if (p.autorotate) img = img.autorot();
    img = ToRgb8White(img);
    const int w = img.width(), h = img.height();
    if (img.bands() != 3 || img.format() != VIPS_FORMAT_UCHAR)
      throw Error("E_DECODE", "Cannot decode " + what + ": unexpected pixel format after conversion", path);
    size_t n = 0;
    void *mem = img.write_to_memory(&n);
    if (n != static_cast<size_t>(w) * h * 3) {
      g_free(mem);
      throw Error("E_DECODE", "Cannot decode " + what + ": unexpected buffer size", path);
    }
    out.width = w;
    out.height = h;
    out.rgb.assign(static_cast<uint8_t *>(mem), static_cast<uint8_t *>(mem) + n);
    g_free(mem);

    // Detector input.
    DetSize(w, h, p.limit, out.detW, out.detH);
    const int dw = out.detW, dh = out.detH;
    const uint8_t *src = out.rgb.data();
    std::vector<uint8_t> resized;
    if (dw != w || dh != h) {
      VImage whole = VImage::new_from_memory(out.rgb.data(), out.rgb.size(), w, h, 3, VIPS_FORMAT_UCHAR);
      VImage r = whole.resize(static_cast<double>(dw) / w,
                              VImage::option()->set("vscale", static_cast<double>(dh) / h)->set("kernel", VIPS_KERNEL_LINEAR));
      if (r.width() != dw || r.height() != dh) {
        // resize rounds the output size; force the exact size the model input needs
        r = r.embed(0, 0, dw, dh, VImage::option()->set("extend", VIPS_EXTEND_COPY)).extract_area(0, 0, dw, dh);
      }
      size_t rn = 0;
      void *rm = r.write_to_memory(&rn);
      if (rn != static_cast<size_t>(dw) * dh * 3) {
        g_free(rm);
        throw Error("E_DECODE", "Cannot decode " + what + ": unexpected buffer size after resize", path);
      }
      resized.assign(static_cast<uint8_t *>(rm), static_cast<uint8_t *>(rm) + rn);
      g_free(rm);
      src = resized.data();
    }
    // (v / 255 - mean) / std with PaddleOCR's mean [0.485, 0.456, 0.406] and std [0.229, 0.224,
    // 0.225] applied to the B, G, R planes (OpenCV's channel order), in that order.
    static const float kMean[3] = {0.485f, 0.456f, 0.406f}, kStd[3] = {0.229f, 0.224f, 0.225f};
    const size_t plane = static_cast<size_t>(dw) * dh;
    out.det.resize(3 * plane);
    for (int c = 0; c < 3; c++) {
      const float scale = 1.0f / (255.0f * kStd[c]), shift = kMean[c] / kStd[c];
      const uint8_t *s = src + (2 - c);  // plane 0 = B (RGB byte 2)
      float *d = out.det.data() + c * plane;
      for (size_t i = 0; i < plane; i++) d[i] = s[3 * i] * scale - shift;
    }
  } catch (const VError &e) {
    vips_error_clear();
    throw Error("E_DECODE", "Cannot decode " + what + ": " + VipsReason(e), path);
  }
}

}  // namespace ocr
}  // namespace memery
