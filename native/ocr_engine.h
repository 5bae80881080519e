// OcrEngine: PaddleOCR (PP-OCR) text detection + recognition on two ONNX Runtime sessions.
// `read` decodes images on a pool of threads (libvips) while the detector and the recogniser run,
// and returns per image the lines of text with their boxes, or that image's error.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "model_wrap.h"
#include "ocr_recognize.h"
#include "ort_model.h"

namespace memery {

struct OcrModels {
  std::unique_ptr<OrtModel> det, rec;
  ocr::Alphabet alphabet;
  std::string dictPath;
  size_t workers = 1;  // images (or one image's line batches) worked on at once
  bool fused = false;  // the graphs' element-wise chains were folded at load (ocr_fuse.h)
};

// Both sessions run on the provider the detector got.
inline const std::string &ProviderOf(const OcrModels &m) { return m.det->provider(); }

class OcrEngine : public ModelWrap<OcrEngine, OcrModels> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  explicit OcrEngine(const Napi::CallbackInfo &info) : ModelWrap(info, "OcrEngine", "OCR engine", "files, options") {}

 private:
  static Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value Read(const Napi::CallbackInfo &info);
  void FillInfo(Napi::Env env, const OcrModels &m, Napi::Object &o) override;
};

}  // namespace memery
