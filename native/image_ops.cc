// Stand-alone image operations: decodeForModel (batch preprocess), thumbnail, imageInfo, saveRgb.
#include <vips/vips8>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "image_ops.h"

#include "common.h"
#include "options.h"
#include "preprocess.h"
#include "read_file.h"
#include "sha256.h"
#include "thread_pool.h"

using vips::VError;
using vips::VImage;

namespace memery {
namespace {

class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(Napi::Env env, std::vector<std::string> paths, PreprocessSpec spec, bool rgb, size_t threads)
      : PromiseWorker(env), paths_(std::move(paths)), spec_(spec), rgb_(rgb), threads_(threads) {}
  void Run() override {
    EnsureVips();
    const size_t n = paths_.size();
    const size_t px = static_cast<size_t>(spec_.size) * spec_.size * 3;
    if (rgb_) bytes_.assign(n * px, 0);
    else floats_.assign(n * px, 0.0f);
    std::atomic<size_t> next{0};
    std::mutex mu;
    auto work = [&] {
      std::vector<uint8_t> rgb(px);
      for (size_t i; (i = next.fetch_add(1)) < n;) {
        try {
          uint8_t *dst = rgb_ ? bytes_.data() + i * px : rgb.data();
          LoadCrop(paths_[i], spec_, dst);
          if (!rgb_) Normalize(dst, spec_, floats_.data() + i * px);
        } catch (const Error &e) {
          std::lock_guard<std::mutex> lock(mu);
          errors_.push_back({static_cast<uint32_t>(i), paths_[i], e.code, e.what()});
        } catch (const std::exception &e) {
          std::lock_guard<std::mutex> lock(mu);
          errors_.push_back({static_cast<uint32_t>(i), paths_[i], "E_DECODE", e.what()});
        }
      }
    };
    // On the shared decode pool (its threads run at lowered priority and end libvips' state
    // when they exit).
    TaskGroup group;
    const size_t t = group.Width(threads_, n);
    size_t started = 0;
    try {
      for (; started < t; started++) group.Run(work);
    } catch (const Error &) {
      if (started == 0) throw;  // else: the queued ones share the work
    }
    group.Wait();
    std::sort(errors_.begin(), errors_.end(), [](const FileError &a, const FileError &b) { return a.index < b.index; });
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    if (rgb_) {
      auto b = Napi::Uint8Array::New(env, bytes_.size());
      std::memcpy(b.Data(), bytes_.data(), bytes_.size());
      r.Set("data", b);
    } else {
      auto f = Napi::Float32Array::New(env, floats_.size());
      std::memcpy(f.Data(), floats_.data(), floats_.size() * sizeof(float));
      r.Set("data", f);
    }
    r.Set("size", spec_.size);
    r.Set("errors", FileErrorsToJs(env, errors_));
    return r;
  }

 private:
  std::vector<std::string> paths_;
  PreprocessSpec spec_;
  bool rgb_;
  size_t threads_;
  std::vector<uint8_t> bytes_;
  std::vector<float> floats_;
  std::vector<FileError> errors_;
};

// A thumbnail of a file (read once: open, fstat, read) or of encoded image bytes passed from JS;
// both decode from memory, the same way.
class ThumbnailWorker : public PromiseWorker {
 public:
  ThumbnailWorker(Napi::Env env, bool fromFile, std::string path, std::vector<uint8_t> bytes, int size, std::string format,
                  int quality, double maxPixels, uint64_t maxFileBytes)
      : PromiseWorker(env), fromFile_(fromFile), path_(std::move(path)), bytes_(std::move(bytes)), size_(size),
        format_(std::move(format)), quality_(quality), maxPixels_(maxPixels), maxFileBytes_(maxFileBytes) {}
  void Run() override {
    EnsureVips();
    FileBytes file;  // outlives every image below: libvips reads the bytes in place
    const uint8_t *data = bytes_.data();
    size_t len = bytes_.size();
    if (fromFile_) {
      ReadWholeFile(path_, maxFileBytes_, file);
      data = file.bytes();
      len = file.length;
    }
    const std::string what = fromFile_ ? path_ : std::string("the image buffer");
    // The content hash of those bytes (as encodeFiles'), so a caller can tell which content it is.
    hash_ = sha256::ContentHash(data, len);
    FindBufferLoader(data, len, what, path_);
    vips_error_clear();  // so that the reason below is this image's, not an earlier one's
    try {
      VImage head = VImage::new_from_buffer(data, len, "", VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
      if (static_cast<double>(head.width()) * head.height() > maxPixels_)
        throw Error("E_DECODE", "Cannot decode " + what + ": " + std::to_string(head.width()) + " x " + std::to_string(head.height()) + " pixels is over the pixel limit", path_);
      VImage t = VImage::thumbnail_buffer(const_cast<uint8_t *>(data), len, size_,
                                          VImage::option()->set("height", size_)->set("size", VIPS_SIZE_DOWN)->set("fail_on", VIPS_FAIL_ON_ERROR));
      if (t.has_alpha() && format_ == "jpeg") t = t.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
      width_ = t.width();
      height_ = t.height();
      void *buf = nullptr;
      size_t len = 0;
      if (format_ == "webp") t.write_to_buffer(".webp", &buf, &len, VImage::option()->set("Q", quality_));
      else if (format_ == "png") t.write_to_buffer(".png", &buf, &len);
      else t.write_to_buffer(".jpg", &buf, &len, VImage::option()->set("Q", quality_)->set("strip", true));
      data_ = TakeVipsBuffer(buf, len);
    } catch (const VError &e) {
      vips_error_clear();
      throw Error("E_DECODE", "Cannot make a thumbnail of " + what + ": " + VipsReason(e), path_);
    }
    VipsThreadDone();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("data", Napi::Buffer<uint8_t>::Copy(env, data_.data(), data_.size()));
    r.Set("width", width_);
    r.Set("height", height_);
    r.Set("format", format_);
    r.Set("hash", hash_);
    return r;
  }

 private:
  bool fromFile_;
  std::string path_;             // empty for bytes
  std::vector<uint8_t> bytes_;   // the encoded image when !fromFile_
  int size_;
  std::string format_;
  int quality_;
  double maxPixels_;
  uint64_t maxFileBytes_;
  std::vector<uint8_t> data_;
  std::string hash_;  // SHA-256 of the input bytes, first 32 hex chars
  int width_ = 0, height_ = 0;
};

class InfoWorker : public PromiseWorker {
 public:
  InfoWorker(Napi::Env env, std::string path) : PromiseWorker(env), path_(std::move(path)) {}
  void Run() override {
    EnsureVips();
    loader_ = FindImageLoader(path_);
    try {
      VImage img = VImage::new_from_file(path_.c_str(), VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
      width_ = img.width();
      height_ = img.height();
      bands_ = img.bands();
      alpha_ = img.has_alpha();
      pages_ = vips_image_get_n_pages(img.get_image());
      orientation_ = vips_image_get_orientation(img.get_image());
    } catch (const VError &e) {
      vips_error_clear();
      throw Error("E_DECODE", "Cannot read the header of " + path_ + ": " + e.what(), path_);
    }
    VipsThreadDone();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("width", width_);
    r.Set("height", height_);
    r.Set("bands", bands_);
    r.Set("hasAlpha", alpha_);
    r.Set("pages", pages_);
    r.Set("orientation", orientation_);
    std::string fmt = loader_;
    // VipsForeignLoadJpegFile -> jpeg
    const std::string pre = "VipsForeignLoad";
    if (fmt.rfind(pre, 0) == 0) fmt = fmt.substr(pre.size());
    for (const char *suf : {"File", "Source", "Buffer"})
      if (fmt.size() > std::strlen(suf) && fmt.compare(fmt.size() - std::strlen(suf), std::strlen(suf), suf) == 0) fmt.resize(fmt.size() - std::strlen(suf));
    for (auto &c : fmt) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.Set("format", fmt);
    return r;
  }

 private:
  std::string path_;
  std::string loader_;
  int width_ = 0, height_ = 0, bands_ = 0, pages_ = 1, orientation_ = 1;
  bool alpha_ = false;
};

class SaveRgbWorker : public PromiseWorker {
 public:
  SaveRgbWorker(Napi::Env env, std::vector<uint8_t> data, int w, int h, std::string path)
      : PromiseWorker(env), data_(std::move(data)), w_(w), h_(h), path_(std::move(path)) {}
  void Run() override {
    EnsureVips();
    try {
      VImage img = VImage::new_from_memory(data_.data(), data_.size(), w_, h_, 3, VIPS_FORMAT_UCHAR);
      img.write_to_file(path_.c_str());
    } catch (const VError &e) {
      vips_error_clear();
      throw Error("E_IO", "Cannot write " + path_ + ": " + e.what(), path_);
    }
    VipsThreadDone();
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::vector<uint8_t> data_;
  int w_, h_;
  std::string path_;
};

template <typename W>
Napi::Value Queue(W *w) {
  auto p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value DecodeForModel(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto paths = StringArray(info[0], "paths");
  Napi::Object spec = ObjectArg(info[1], "spec");
  bool rgb = StringKey(spec, "output") == "rgb";
  size_t threads = static_cast<size_t>(NumberKey(spec, "threads"));
  return Queue(new DecodeWorker(env, std::move(paths), ReadSpec(spec), rgb, threads));
}

Napi::Value Thumbnail(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const bool fromFile = info[0].IsString();
  std::string path;
  std::vector<uint8_t> bytes;
  if (fromFile) {
    path = info[0].As<Napi::String>().Utf8Value();
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    // A copy: JS may change or free its buffer while the worker runs.
    auto a = info[0].As<Napi::Uint8Array>();
    bytes.assign(a.Data(), a.Data() + a.ElementLength());
  } else {
    throw Napi::TypeError::New(env, "Expected a path (string) or a Buffer for input");
  }
  Napi::Object o = ObjectArg(info[1], "options");
  const uint64_t maxFileBytes = ReadMaxFileBytes(env, o);
  return Queue(new ThumbnailWorker(env, fromFile, std::move(path), std::move(bytes), static_cast<int>(NumberKey(o, "size")),
                                   StringKey(o, "format"), static_cast<int>(NumberKey(o, "quality")), NumberKey(o, "maxPixels"),
                                   maxFileBytes));
}

Napi::Value ImageInfo(const Napi::CallbackInfo &info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected a path (string)");
  return Queue(new InfoWorker(info.Env(), info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value SaveRgb(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || (info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array &&
                                   info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_clamped_array))
    throw Napi::TypeError::New(env, "Expected a Uint8Array of RGB pixels");
  auto a = info[0].As<Napi::Uint8Array>();
  int w = info[1].As<Napi::Number>().Int32Value(), h = info[2].As<Napi::Number>().Int32Value();
  if (w <= 0 || h <= 0 || a.ElementLength() != static_cast<size_t>(w) * h * 3)
    throw ToJsError(env, "E_USAGE", "Expected width*height*3 bytes of RGB pixels");
  std::vector<uint8_t> data(a.Data(), a.Data() + a.ElementLength());
  return Queue(new SaveRgbWorker(env, std::move(data), w, h, info[3].As<Napi::String>().Utf8Value()));
}

// Internal (tests and measurements; not part of the TS API): full hex SHA-256 of a Uint8Array with
// the implementation encodeFiles uses, or a given one ('portable' | 'sha-ni'). Synchronous.
Napi::Value Sha256Hex(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "Expected a Buffer or Uint8Array");
  auto a = info[0].As<Napi::Uint8Array>();
  sha256::Impl impl = sha256::Impl::Auto;
  const std::string which = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "auto";
  if (which == "portable") impl = sha256::Impl::Portable;
  else if (which == "sha-ni") {
    if (!sha256::HasShaNi()) throw ToJsError(env, "E_USAGE", "This CPU (or build) has no SHA-NI");
    impl = sha256::Impl::ShaNi;
  } else if (which != "auto") throw ToJsError(env, "E_USAGE", "Expected 'auto', 'portable' or 'sha-ni'");
  uint8_t digest[32];
  sha256::Hash(a.Data(), a.ElementLength(), digest, impl);
  return Napi::String::New(env, sha256::Hex(digest));
}

Napi::Value Sha256Impl(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), sha256::AutoImplName()); }

}  // namespace

void InitImageOps(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeForModel", Napi::Function::New(env, DecodeForModel, "decodeForModel"));
  exports.Set("thumbnail", Napi::Function::New(env, Thumbnail, "thumbnail"));
  exports.Set("imageInfo", Napi::Function::New(env, ImageInfo, "imageInfo"));
  exports.Set("saveRgb", Napi::Function::New(env, SaveRgb, "saveRgb"));
  exports.Set("sha256Hex", Napi::Function::New(env, Sha256Hex, "sha256Hex"));
  exports.Set("sha256Impl", Napi::Function::New(env, Sha256Impl, "sha256Impl"));
}

}  // namespace memery
