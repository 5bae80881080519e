#include "image_encoder.h"

#include <algorithm>
#include <atomic>

#include "alloc_tuning.h"
#include "common.h"
#include "options.h"
#include "embeddings.h"
#include "read_file.h"
#include "sha256.h"
#include "thread_pool.h"

namespace memery {


void ImageModel::Run(const float *chw, size_t n, float *out) {
  const size_t per = static_cast<size_t>(3) * size * size;
  const size_t step = fixedBatch > 0 ? static_cast<size_t>(fixedBatch) : n;
  Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const char *inName = model->inputs()[input].name.c_str();
  const char *outName = model->outputs()[output].name.c_str();
  std::vector<float> padded;
  for (size_t start = 0; start < n; start += step) {
    size_t count = std::min(step, n - start);
    const float *src = chw + start * per;
    size_t batch = count;
    if (fixedBatch > 0 && count < static_cast<size_t>(fixedBatch)) {
      padded.assign(per * fixedBatch, 0.0f);
      std::copy(src, src + per * count, padded.begin());
      src = padded.data();
      batch = fixedBatch;
    }
    std::vector<int64_t> shape = {static_cast<int64_t>(batch), 3, size, size};
    Ort::Value in = Ort::Value::CreateTensor<float>(mem, const_cast<float *>(src), per * batch, shape.data(), shape.size());
    Ort::Value res = model->RunEmbedding(&inName, &in, 1, outName, dim);
    const float *o = res.GetTensorData<float>();
    std::copy(o, o + count * dim, out + start * dim);
  }
  L2NormalizeRows(out, n, dim);
}

namespace {



class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, ModelOptions mo, PreprocessSpec spec)
      : PromiseWorker(env), path_(std::move(path)), mo_(std::move(mo)), spec_(spec) {}
  void Run() override {
    auto m = std::make_shared<ImageModel>();
    m->model = std::make_unique<OrtModel>(path_, mo_);
    m->spec = spec_;
    const auto &ins = m->model->inputs();
    size_t idx = ins.size();
    for (size_t i = 0; i < ins.size(); i++)
      if (ins[i].type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) { idx = i; break; }
    if (idx == ins.size() || ins.size() != 1)
      throw Error("E_MODEL", "Expected one float image input in " + path_ + " but the model has " + std::to_string(ins.size()) + " inputs", path_);
    const auto &in = ins[idx];
    const auto &sh = in.shape;
    bool ok = sh.size() == 4 && (sh[1] == 3 || sh[1] < 0) && (sh[2] < 0 || sh[2] == spec_.size) && (sh[3] < 0 || sh[3] == spec_.size);
    if (!ok)
      throw Error("E_MODEL", "Expected image input '" + in.name + "' of shape [batch,3," + std::to_string(spec_.size) + "," +
                                 std::to_string(spec_.size) + "] in " + path_ + " but received " + ShapeString(sh), path_);
    m->input = idx;
    m->size = spec_.size;
    m->fixedBatch = sh[0] > 0 ? sh[0] : 0;
    static const char *const preferred[] = {"image_embeds", "embedding", "embeddings", "image_features", nullptr};
    m->output = m->model->EmbeddingOutput(preferred);
    m->dim = m->model->outputs()[m->output].shape[1];
    if (m->dim <= 0) {
      // Dynamic width: find it by running one blank image.
      std::vector<float> blank(static_cast<size_t>(3) * spec_.size * spec_.size, 0.0f);
      m->dim = 1 << 16;
      Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
      std::vector<int64_t> shape = {1, 3, spec_.size, spec_.size};
      Ort::Value v = Ort::Value::CreateTensor<float>(mem, blank.data(), blank.size(), shape.data(), 4);
      const char *inName = in.name.c_str();
      const char *outName = m->model->outputs()[m->output].name.c_str();
      auto r = m->model->session().Run(Ort::RunOptions{nullptr}, &inName, &v, 1, &outName, 1);
      m->dim = r[0].GetTensorTypeAndShapeInfo().GetShape()[1];
    }
    model_ = m;
  }
  Napi::Value Result(Napi::Env env) override {
    return ImageEncoder::Wrap(Data(env).imageEncoder, env, model_);
  }

 private:
  std::string path_;
  ModelOptions mo_;
  PreprocessSpec spec_;
  std::shared_ptr<ImageModel> model_;
};

class EncodeFilesWorker : public PromiseWorker {
 public:
  EncodeFilesWorker(Napi::Env env, std::shared_ptr<ImageModel> m, std::vector<std::string> paths, size_t batch, size_t threads,
                    uint64_t maxFileBytes, int thumbnailSize, int thumbnailQuality)
      : PromiseWorker(env), m_(std::move(m)), paths_(std::move(paths)), batch_(std::max<size_t>(1, batch)), threads_(threads),
        maxFileBytes_(maxFileBytes), thumbnailSize_(thumbnailSize), thumbnailQuality_(thumbnailQuality) {}

  void Run() override {
    ScopedDecodeAllocator allocator;  // heap, not mmap, for the decoders' large blocks (alloc_tuning.h)
    const size_t n = paths_.size();
    const size_t dim = static_cast<size_t>(m_->dim);
    const size_t per = static_cast<size_t>(3) * m_->size * m_->size;
    out_.assign(n * dim, 0.0f);
    ok_.assign(n, 0);
    sizes_.assign(n * 2, 0);
    stats_.assign(n * 2, 0.0);
    hashes_.assign(n, std::string());
    thumbs_.assign(n, std::vector<uint8_t>());
    if (n == 0) return;

    struct Item { size_t index; std::vector<float> chw; };
    // Decoders run on the shared decode pool; this (libuv) thread runs inference on what they
    // have ready, in batches. At most two batches wait decoded.
    TaskGroup group;
    const size_t active = group.Width(threads_, n);
    ReadyQueue<Item> ready(active, batch_ * 2);
    std::atomic<size_t> next{0};
    std::mutex mu;  // errors_

    auto decoder = [&] {
      std::vector<uint8_t> rgb(static_cast<size_t>(m_->size) * m_->size * 3);
      FileBytes file;  // one read buffer per task, reused from file to file
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= n || ready.stopped()) break;
        Item item{i, {}};
        try {
          // Read once (one open, fstat on that descriptor); hash and decode exactly those bytes.
          // Each slot i of stats_/hashes_/sizes_ is written by the one thread that took i.
          try {
            ReadWholeFile(paths_[i], maxFileBytes_, file);
          } catch (...) {
            if (file.statted) {
              stats_[i * 2] = file.size;
              stats_[i * 2 + 1] = file.mtimeMs;
            }
            throw;
          }
          stats_[i * 2] = file.size;
          stats_[i * 2 + 1] = file.mtimeMs;
          hashes_[i] = sha256::ContentHash(file.bytes(), file.length);
          // The thumbnail (when asked for) comes from this same decode.
          ThumbnailRequest thumb;
          thumb.size = thumbnailSize_;
          thumb.quality = thumbnailQuality_;
          ImageSize sz = LoadCrop(file.bytes(), file.length, paths_[i], m_->spec, rgb.data(), &thumb);
          thumbs_[i] = std::move(thumb.jpeg);
          if (file.capacity > (size_t{64} << 20)) {  // do not hold on to an outsized buffer
            file.data.reset();
            file.capacity = 0;
          }
          sizes_[i * 2] = static_cast<uint32_t>(sz.width);
          sizes_[i * 2 + 1] = static_cast<uint32_t>(sz.height);
          item.chw.resize(per);
          Normalize(rgb.data(), m_->spec, item.chw.data());
        } catch (const Error &e) {
          std::lock_guard<std::mutex> lock(mu);
          errors_.push_back({static_cast<uint32_t>(i), paths_[i], e.code, e.what()});
          continue;
        } catch (const std::exception &e) {
          std::lock_guard<std::mutex> lock(mu);
          errors_.push_back({static_cast<uint32_t>(i), paths_[i], "E_DECODE", std::string("Cannot decode ") + paths_[i] + ": " + e.what()});
          continue;
        }
        if (!ready.Push(std::move(item))) break;
      }
      ready.ProducerDone();
    };
    size_t started = 0;
    try {
      for (; started < active; started++) group.Run(decoder);
    } catch (const Error &) {
      // Fewer decoders than asked (none could be queued): the ones that run share the work.
      ready.ProducersMissing(active - started);
      if (started == 0) throw;
    }

    std::vector<float> input;
    std::vector<float> emb;
    std::vector<size_t> idx;
    try {
      for (;;) {
        std::vector<Item> items = ready.TakeBatch(batch_);
        if (items.empty()) break;
        idx.clear();
        input.resize(items.size() * per);
        for (size_t k = 0; k < items.size(); k++) {
          std::copy(items[k].chw.begin(), items[k].chw.end(), input.begin() + k * per);
          idx.push_back(items[k].index);
        }
        items.clear();
        emb.resize(idx.size() * dim);
        m_->Run(input.data(), idx.size(), emb.data());
        for (size_t k = 0; k < idx.size(); k++) {
          std::copy(emb.begin() + k * dim, emb.begin() + (k + 1) * dim, out_.begin() + idx[k] * dim);
          ok_[idx[k]] = 1;
        }
      }
    } catch (...) {
      ready.Stop();
      group.Wait();
      throw;
    }
    group.Wait();
    std::sort(errors_.begin(), errors_.end(), [](const FileError &a, const FileError &b) { return a.index < b.index; });
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    auto buf = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), buf.Data());
    r.Set("embeddings", buf);
    r.Set("dim", Napi::Number::New(env, static_cast<double>(m_->dim)));
    auto ok = Napi::Uint8Array::New(env, ok_.size());
    std::copy(ok_.begin(), ok_.end(), ok.Data());
    r.Set("ok", ok);
    auto sizes = Napi::Uint32Array::New(env, sizes_.size());
    std::copy(sizes_.begin(), sizes_.end(), sizes.Data());
    r.Set("sizes", sizes);
    auto hashes = Napi::Array::New(env, hashes_.size());
    for (size_t i = 0; i < hashes_.size(); i++) hashes.Set(static_cast<uint32_t>(i), Napi::String::New(env, hashes_[i]));
    r.Set("hashes", hashes);
    auto stats = Napi::Float64Array::New(env, stats_.size());
    std::copy(stats_.begin(), stats_.end(), stats.Data());
    r.Set("stats", stats);
    auto thumbs = Napi::Array::New(env, thumbs_.size());
    for (size_t i = 0; i < thumbs_.size(); i++) {
      const auto &t = thumbs_[i];
      thumbs.Set(static_cast<uint32_t>(i), t.empty() ? env.Null() : Napi::Buffer<uint8_t>::Copy(env, t.data(), t.size()).As<Napi::Value>());
    }
    r.Set("thumbnails", thumbs);
    r.Set("errors", FileErrorsToJs(env, errors_));
    return r;
  }

 private:
  std::shared_ptr<ImageModel> m_;
  std::vector<std::string> paths_;
  size_t batch_, threads_;
  uint64_t maxFileBytes_;
  int thumbnailSize_, thumbnailQuality_;  // thumbnailSize_ 0: none
  std::vector<float> out_;
  std::vector<uint8_t> ok_;
  std::vector<uint32_t> sizes_;
  std::vector<double> stats_;        // [size, mtimeMs] per file, from the fstat of the descriptor read
  std::vector<std::string> hashes_;  // SHA-256 of the bytes read, first 32 hex chars; "" where not read
  std::vector<std::vector<uint8_t>> thumbs_;  // JPEG thumbnails; empty where none was made
  std::vector<FileError> errors_;
};

class EncodeTensorWorker : public PromiseWorker {
 public:
  EncodeTensorWorker(Napi::Env env, std::shared_ptr<ImageModel> m, std::vector<float> data, size_t n)
      : PromiseWorker(env), m_(std::move(m)), data_(std::move(data)), n_(n) {}
  void Run() override {
    out_.resize(n_ * m_->dim);
    m_->Run(data_.data(), n_, out_.data());
  }
  Napi::Value Result(Napi::Env env) override {
    auto buf = Napi::Float32Array::New(env, out_.size());
    std::copy(out_.begin(), out_.end(), buf.Data());
    return buf;
  }

 private:
  std::shared_ptr<ImageModel> m_;
  std::vector<float> data_;
  size_t n_;
  std::vector<float> out_;
};

}  // namespace

Napi::Object ImageEncoder::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "ImageEncoder",
                                 {StaticMethod<&ImageEncoder::Load>("load"),
                                  InstanceMethod<&ImageEncoder::EncodeFiles>("encodeFiles"),
                                  InstanceMethod<&ImageEncoder::EncodeTensor>("encodeTensor"),
                                  InfoMethod(), CloseMethod()});
  Data(env).imageEncoder = Napi::Persistent(f);
  exports.Set("ImageEncoder", f);
  return exports;
}

Napi::Value ImageEncoder::Load(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "Expected a model path (string)");
  Napi::Object mo = ObjectArg(info[1], "options");
  Napi::Object spec = ObjectArg(info[2], "spec");
  return Queue(new LoadWorker(env, info[0].As<Napi::String>().Utf8Value(), ReadModelOptions(mo), ReadSpec(spec)));
}

Napi::Value ImageEncoder::EncodeFiles(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto m = Model(env);
  auto paths = StringArray(info[0], "paths");
  Napi::Object o = ObjectArg(info[1], "options");
  size_t batch = static_cast<size_t>(NumberKey(o, "batchSize"));
  size_t threads = static_cast<size_t>(NumberKey(o, "decodeThreads"));
  uint64_t maxFileBytes = ReadMaxFileBytes(env, o);
  // Checked as doubles (NaN, infinities) before they become ints; the zod schema checks them first.
  const double thumbnailSize = NumberKey(o, "thumbnailSize");
  const double thumbnailQuality = NumberKey(o, "thumbnailQuality");
  if (!(thumbnailSize >= 0 && thumbnailSize <= 4096) || !(thumbnailQuality >= 1 && thumbnailQuality <= 100))
    throw ToJsError(env, "E_USAGE", "Expected thumbnailSize 0-4096 and thumbnailQuality 1-100");
  return Queue(new EncodeFilesWorker(env, m, std::move(paths), batch, threads, maxFileBytes, static_cast<int>(thumbnailSize),
                                     static_cast<int>(thumbnailQuality)));
}

Napi::Value ImageEncoder::EncodeTensor(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto m = Model(env);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "Expected a Float32Array for pixels");
  auto arr = info[0].As<Napi::Float32Array>();
  size_t per = static_cast<size_t>(3) * m->size * m->size;
  if (arr.ElementLength() % per != 0)
    throw ToJsError(env, "E_USAGE", "Expected a multiple of 3x" + std::to_string(m->size) + "x" + std::to_string(m->size) + " floats for pixels");
  std::vector<float> data(arr.Data(), arr.Data() + arr.ElementLength());
  return Queue(new EncodeTensorWorker(env, m, std::move(data), arr.ElementLength() / per));
}

void ImageEncoder::FillInfo(Napi::Env env, const ImageModel &m, Napi::Object &o) {
  o.Set("input", m.model->inputs()[m.input].name);
  o.Set("output", m.model->outputs()[m.output].name);
  o.Set("size", m.size);
  o.Set("dim", Napi::Number::New(env, static_cast<double>(m.dim)));
}

}  // namespace memery
