// OcrEngine: PaddleOCR (PP-OCR) text detection + recognition on two ONNX Runtime sessions.
// `read` decodes images on a pool of threads (libvips) while the detector and the recogniser run,
// and returns per image the lines of text with their boxes, or that image's error.
#pragma once
#include <napi.h>

#include <memory>

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

class OcrEngine : public Napi::ObjectWrap<OcrEngine> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  explicit OcrEngine(const Napi::CallbackInfo &info);

 private:
  static Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value Read(const Napi::CallbackInfo &info);
  Napi::Value Info(const Napi::CallbackInfo &info);
  Napi::Value Close(const Napi::CallbackInfo &info);
  std::shared_ptr<OcrModels> Models(Napi::Env env);
  std::shared_ptr<OcrModels> models_;
};

}  // namespace memery
