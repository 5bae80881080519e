#include "ocr_engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

#include "common.h"
#include "ocr_detect.h"
#include "ocr_fuse.h"
#include "ocr_image.h"
#include "options.h"
#include "preprocess.h"
#include "read_file.h"
#include "sha256.h"
#include "threads.h"

namespace memery {

namespace {

struct ReadParams {
  ocr::DecodeParams decode;
  ocr::DetParams det;
  ocr::RecParams rec;
  size_t decodeThreads = 0;
  size_t workers = 0;  // 0: the engine's threads
  uint64_t maxFileBytes = kDefaultMaxFileBytes;
  bool profile = false;
};

struct Input {
  bool fromFile = true;
  std::string path;            // for a file
  std::vector<uint8_t> bytes;  // for a buffer (a copy: JS may change its buffer meanwhile)
};

struct ImageResult {
  bool ok = false;
  int width = 0, height = 0;
  std::vector<ocr::Line> lines;
  std::string code, message, path;
  // SHA-256 of the bytes read and decoded (first 32 hex chars, as the image encoder's); '' where
  // the file could not be read.
  std::string hash;
  double msDecode = 0, msDetect = 0, msRecognize = 0;
  double msDetectRun = 0, msRecognizeRun = 0;  // ONNX Runtime's Run alone, within detect / recognize
};

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

void CheckModels(OcrModels &m) {
  const auto &di = m.det->inputs(), &dout = m.det->outputs();
  const std::string &dp = m.det->path();
  if (di.size() != 1 || di[0].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || di[0].shape.size() != 4 ||
      (di[0].shape[1] != 3 && di[0].shape[1] >= 0))
    throw Error("E_MODEL", "Expected one float input [n,3,H,W] in the text detector " + dp + " but received " +
                               (di.empty() ? std::string("none") : di[0].name + ShapeString(di[0].shape)), dp);
  if (dout.empty() || dout[0].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || dout[0].shape.size() != 4)
    throw Error("E_MODEL", "Expected a float output [n,1,H,W] in the text detector " + dp + " but received " +
                               (dout.empty() ? std::string("none") : dout[0].name + ShapeString(dout[0].shape)), dp);
  const auto &ri = m.rec->inputs(), &rout = m.rec->outputs();
  const std::string &rp = m.rec->path();
  if (ri.size() != 1 || ri[0].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || ri[0].shape.size() != 4 ||
      (ri[0].shape[1] != 3 && ri[0].shape[1] >= 0) || (ri[0].shape[2] != 48 && ri[0].shape[2] >= 0))
    throw Error("E_MODEL", "Expected one float input [n,3,48,W] in the text recogniser " + rp + " but received " +
                               (ri.empty() ? std::string("none") : ri[0].name + ShapeString(ri[0].shape)), rp);
  if (rout.empty() || rout[0].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || rout[0].shape.size() != 3)
    throw Error("E_MODEL", "Expected a float output [n,T,classes] in the text recogniser " + rp + " but received " +
                               (rout.empty() ? std::string("none") : rout[0].name + ShapeString(rout[0].shape)), rp);
  const int64_t classes = rout[0].shape[2];
  const size_t expected = m.alphabet.symbols.size();
  if (classes >= 0 && static_cast<size_t>(classes) != expected)
    throw Error("E_MODEL", "Expected the dictionary " + m.dictPath + " to match the recogniser's " + std::to_string(classes) +
                               " classes (blank + one per line + space) but it gives " + std::to_string(expected), m.dictPath);
}

struct OcrLoadParams {
  ModelOptions mo;  // mo.threads: cores the engine uses (0 = all)
  int detThreads = -1;  // ONNX Runtime threads of the detector (-1: mo.threads)
  bool fuse = true;
};

// The model file's bytes with the element-wise chains folded (ocr_fuse.h); empty when the file
// cannot be read (OrtModel then names the problem) or holds nothing to fold.
std::string FusedBytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!f.good() && !f.eof()) return {};
  return ocr::FuseModel(bytes);
}

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string det, std::string rec, std::string dict, OcrLoadParams lp)
      : PromiseWorker(env), det_(std::move(det)), rec_(std::move(rec)), dict_(std::move(dict)), lp_(std::move(lp)) {}
  void Run() override {
    auto m = std::make_shared<OcrModels>();
    m->dictPath = dict_;
    m->alphabet = ocr::ReadAlphabet(dict_);
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    m->workers = lp_.mo.threads > 0 ? static_cast<size_t>(lp_.mo.threads) : hw;
    // Sessions run on the calling worker thread (1 intra-op thread): a read keeps `workers`
    // images in flight, or spreads one image's line batches over them, which costs less CPU than
    // ONNX Runtime's pool splitting each small op. The detector may get a pool for latency.
    ModelOptions detMo = lp_.mo, recMo = lp_.mo;
    detMo.threads = lp_.detThreads >= 0 ? lp_.detThreads : lp_.mo.threads;
    recMo.threads = 1;
    std::string detBytes = lp_.fuse ? FusedBytes(det_) : std::string();
    std::string recBytes = lp_.fuse ? FusedBytes(rec_) : std::string();
    m->fused = !detBytes.empty() || !recBytes.empty();
    m->det = detBytes.empty() ? std::make_unique<OrtModel>(det_, detMo) : std::make_unique<OrtModel>(det_, detMo, detBytes);
    m->rec = recBytes.empty() ? std::make_unique<OrtModel>(rec_, recMo) : std::make_unique<OrtModel>(rec_, recMo, recBytes);
    CheckModels(*m);
    models_ = m;
  }
  Napi::Value Result(Napi::Env env) override {
    return OcrEngine::Wrap(Data(env).ocrEngine, env, models_);
  }

 private:
  std::string det_, rec_, dict_;
  OcrLoadParams lp_;
  std::shared_ptr<OcrModels> models_;
};

class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, std::shared_ptr<OcrModels> m, std::vector<Input> inputs, ReadParams p)
      : PromiseWorker(env), m_(std::move(m)), inputs_(std::move(inputs)), p_(p) {}

  void Run() override {
    results_.resize(inputs_.size());
    if (inputs_.empty()) return;
    // The pipeline runs on a thread of its own at a lower priority (so do the decoders and ONNX
    // Runtime's pool), leaving the libuv pool thread that runs this worker as it was.
    std::exception_ptr failure;
    std::thread t([&] {
      LowerThreadPriority();
      try {
        Pipeline();
      } catch (...) {
        failure = std::current_exception();
      }
    });
    t.join();
    if (failure) std::rethrow_exception(failure);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      const ImageResult &r = results_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("ok", r.ok);
      o.Set("hash", r.hash);
      if (r.ok) {
        std::string text;
        Napi::Array lines = Napi::Array::New(env, r.lines.size());
        for (size_t k = 0; k < r.lines.size(); k++) {
          const ocr::Line &l = r.lines[k];
          if (k) text += '\n';
          text += l.text;
          Napi::Object lo = Napi::Object::New(env);
          lo.Set("text", l.text);
          lo.Set("confidence", Napi::Number::New(env, l.confidence));
          Napi::Array box = Napi::Array::New(env, 8);
          for (uint32_t c = 0; c < 4; c++) {
            box.Set(2 * c, Napi::Number::New(env, l.box[c].x));
            box.Set(2 * c + 1, Napi::Number::New(env, l.box[c].y));
          }
          lo.Set("box", box);
          lines.Set(static_cast<uint32_t>(k), lo);
        }
        o.Set("text", text);
        o.Set("lines", lines);
        o.Set("width", r.width);
        o.Set("height", r.height);
      } else {
        o.Set("code", r.code);
        o.Set("message", r.message);
        if (!r.path.empty()) o.Set("path", r.path);
      }
      if (p_.profile) {
        Napi::Object t = Napi::Object::New(env);
        t.Set("decode", r.msDecode);
        t.Set("detect", r.msDetect);
        t.Set("recognize", r.msRecognize);
        t.Set("detectRun", r.msDetectRun);
        t.Set("recognizeRun", r.msRecognizeRun);
        o.Set("timings", t);
      }
      arr.Set(static_cast<uint32_t>(i), o);
    }
    return arr;
  }

 private:
  struct Item {
    size_t index;
    ocr::OcrImage image;
  };

  void Fail(size_t i, const std::string &code, const std::string &message) {
    ImageResult &r = results_[i];
    r.ok = false;
    r.code = code;
    r.message = message;
    r.path = inputs_[i].fromFile ? inputs_[i].path : std::string();
  }

  // One image between detection and its last line batch.
  struct Work {
    size_t index = 0;
    ocr::OcrImage image;
    std::vector<ocr::Quad> boxes;
    ocr::RecPlan plan;
    size_t pending = 0;  // line batches not finished (under the pipeline's mutex)
    bool failed = false;
    std::string code, message;
    Clock::time_point recStart;
  };

  void FailWith(Work &w, const char *code, const std::string &message) {
    if (w.failed) return;
    w.failed = true;
    w.code = code;
    w.message = message;
  }

  // Detection of one decoded image; fills `w.boxes` and the recognition plan.
  void Detect(Work &w) {
    ImageResult &r = results_[w.index];
    const ocr::OcrImage &img = w.image;
    OrtModel &det = *m_->det;
    auto t0 = Clock::now();
    std::vector<int64_t> shape = {1, 3, img.detH, img.detW};
    Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    Ort::Value in = Ort::Value::CreateTensor<float>(mem, const_cast<float *>(img.det.data()), img.det.size(), shape.data(), 4);
    const char *inName = det.inputs()[0].name.c_str();
    const char *outName = det.outputs()[0].name.c_str();
    std::vector<Ort::Value> res;
    const auto run0 = Clock::now();
    try {
      res = det.session().Run(Ort::RunOptions{nullptr}, &inName, &in, 1, &outName, 1);  // Run is thread-safe
    } catch (const Ort::Exception &e) {
      throw Error("E_MODEL", std::string("Text detection failed in ") + det.path() + ": " + e.what(), det.path());
    }
    r.msDetectRun = Ms(run0, Clock::now());
    const auto os = res[0].GetTensorTypeAndShapeInfo().GetShape();
    if (os.size() != 4 || os[0] != 1 || os[1] != 1 || os[2] != img.detH || os[3] != img.detW)
      throw Error("E_MODEL", "Expected detector output [1,1," + std::to_string(img.detH) + "," + std::to_string(img.detW) +
                                 "] but received " + ShapeString(os), det.path());
    w.boxes = ocr::DbBoxes(res[0].GetTensorData<float>(), img.detW, img.detH, img.width, img.height, p_.det);
    res.clear();
    w.image.det = std::vector<float>();  // the detector's input is not needed any more
    w.plan = ocr::PlanRecognition(w.boxes, p_.rec);
    w.recStart = Clock::now();
    r.msDetect = Ms(t0, w.recStart);
  }

  void RecognizeBatch(Work &w, size_t b) {
    try {
      ocr::RecognizeBatch(*m_->rec, m_->alphabet, w.image.rgb.data(), w.image.width, w.image.height, w.boxes, p_.rec, w.plan, b);
    } catch (const Error &e) {
      FailWith(w, e.code.c_str(), e.what());
    } catch (const std::bad_alloc &) {
      FailWith(w, "E_NOMEM", "Out of memory while reading the text of " + What(w.index));
    } catch (const std::exception &e) {
      FailWith(w, "E_NATIVE", "Text recognition failed on " + What(w.index) + ": " + e.what());
    }
  }

  std::string What(size_t i) const { return inputs_[i].fromFile ? inputs_[i].path : std::string("an image buffer"); }

  void Finish(Work &w) {
    ImageResult &r = results_[w.index];
    if (w.failed) {
      Fail(w.index, w.code, w.message);
      return;
    }
    for (double ms : w.plan.runMs) r.msRecognizeRun += ms;
    r.lines = ocr::CollectLines(w.plan);
    r.ok = true;
    r.width = w.image.width;
    r.height = w.image.height;
    r.msRecognize = Ms(w.recStart, Clock::now());
  }

  // Decoders (libvips) fill `ready`; `workers` threads take, in this order of preference, a line
  // batch of an image already detected, or a decoded image to detect. One image on its own is
  // thus detected on one thread and its lines read on all of them; many images run side by side.
  void Pipeline() {
    const size_t n = inputs_.size();
    std::deque<Item> ready;
    std::deque<std::pair<std::shared_ptr<Work>, size_t>> batches;
    std::mutex mu;
    std::condition_variable cvWork, cvSpace;
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    const size_t hw = std::max<unsigned>(1, std::thread::hardware_concurrency());
    const size_t active = std::min(p_.decodeThreads == 0 ? hw : p_.decodeThreads, n);
    const size_t workers = std::max<size_t>(1, p_.workers ? p_.workers : m_->workers);
    size_t running = active, inFlight = 0;
    const size_t maxQueue = std::max<size_t>(2, workers);  // decoded images waiting (each holds its whole RGB image)

    auto decoder = [&] {
      LowerThreadPriority();
      for (;;) {
        const size_t i = next.fetch_add(1);
        if (i >= n || stop.load()) break;
        Item item{i, {}};
        auto t0 = Clock::now();
        try {
          const Input &in = inputs_[i];
          FileBytes file;  // outlives the decode: libvips reads the bytes in place
          const uint8_t *data = in.bytes.data();
          size_t len = in.bytes.size();
          if (in.fromFile) {
            ReadWholeFile(in.path, p_.maxFileBytes, file);
            data = file.bytes();
            len = file.length;
          }
          results_[i].hash = sha256::ContentHash(data, len);
          const std::string what = in.fromFile ? in.path : "the image buffer at index " + std::to_string(i);
          ocr::DecodeForOcr(data, len, what, in.fromFile ? in.path : std::string(), p_.decode, item.image);
        } catch (const Error &e) {
          Fail(i, e.code, e.what());
          continue;
        } catch (const std::bad_alloc &) {
          Fail(i, "E_NOMEM", "Out of memory while decoding " + What(i));
          continue;
        } catch (const std::exception &e) {
          Fail(i, "E_DECODE", std::string("Cannot decode ") + (inputs_[i].fromFile ? inputs_[i].path : std::string("the image buffer")) + ": " + e.what());
          continue;
        }
        results_[i].msDecode = Ms(t0, Clock::now());
        std::unique_lock<std::mutex> lock(mu);
        cvSpace.wait(lock, [&] { return ready.size() < maxQueue || stop.load(); });
        if (stop.load()) break;
        ready.push_back(std::move(item));
        cvWork.notify_one();
      }
      VipsThreadDone();
      std::lock_guard<std::mutex> lock(mu);
      running--;
      cvWork.notify_all();
    };

    std::exception_ptr failure;  // an unexpected exception in a worker (the first)
    auto worker = [&] {
      std::unique_lock<std::mutex> lock(mu);
      for (;;) {
        cvWork.wait(lock, [&] { return !batches.empty() || !ready.empty() || (running == 0 && inFlight == 0) || stop.load(); });
        if (stop.load()) return;
        if (!batches.empty()) {
          auto [w, b] = std::move(batches.front());
          batches.pop_front();
          lock.unlock();
          RecognizeBatch(*w, b);
          lock.lock();
          if (--w->pending == 0) {
            Finish(*w);
            inFlight--;
            cvWork.notify_all();
          }
          continue;
        }
        if (!ready.empty()) {
          auto w = std::make_shared<Work>();
          w->index = ready.front().index;
          w->image = std::move(ready.front().image);
          ready.pop_front();
          cvSpace.notify_one();
          inFlight++;
          lock.unlock();
          bool ok = false;
          try {
            Detect(*w);
            ok = true;
          } catch (const Error &e) {
            FailWith(*w, e.code.c_str(), e.what());
          } catch (const std::bad_alloc &) {
            FailWith(*w, "E_NOMEM", "Out of memory while reading the text of " + What(w->index));
          } catch (...) {
            lock.lock();
            if (!failure) failure = std::current_exception();
            stop = true;
            cvWork.notify_all();
            cvSpace.notify_all();
            return;
          }
          lock.lock();
          const size_t nb = ok ? w->plan.batches.size() : 0;
          if (nb == 0) {
            Finish(*w);
            inFlight--;
            cvWork.notify_all();
            continue;
          }
          w->pending = nb;
          // this worker takes the first batch next (front of the queue); the others go to idle workers
          for (size_t b = nb; b-- > 0;) batches.emplace_front(w, b);
          if (nb > 1) cvWork.notify_all();
          continue;
        }
        return;  // decoders done and nothing in flight
      }
    };

    std::vector<std::thread> pool, helpers;
    auto finish = [&] {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
      }
      cvSpace.notify_all();
      cvWork.notify_all();
      for (auto &t : helpers) t.join();
      for (auto &t : pool) t.join();
    };
    try {
      try {
        for (size_t t = 0; t < active; t++) pool.emplace_back(decoder);
      } catch (const std::system_error &) {
        std::lock_guard<std::mutex> lock(mu);
        running -= active - pool.size();
        if (pool.empty()) throw Error("E_NATIVE", "Cannot start decoder threads");
      }
      try {
        for (size_t t = 1; t < workers; t++)
          helpers.emplace_back([&] {
            LowerThreadPriority();
            worker();
          });
      } catch (const std::system_error &) {
        // fewer workers: the pipeline thread works on its own
      }
      worker();
    } catch (...) {
      finish();
      throw;
    }
    // all images are done once any worker returns without `stop`; wait for the others
    for (auto &t : helpers) t.join();
    helpers.clear();
    finish();
    if (failure) std::rethrow_exception(failure);
  }

  std::shared_ptr<OcrModels> m_;
  std::vector<Input> inputs_;
  ReadParams p_;
  std::vector<ImageResult> results_;
};

}  // namespace

Napi::Object OcrEngine::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function f = DefineClass(env, "OcrEngine",
                                 {StaticMethod<&OcrEngine::Load>("load"), InstanceMethod<&OcrEngine::Read>("read"),
                                  InfoMethod(), CloseMethod()});
  Data(env).ocrEngine = Napi::Persistent(f);
  exports.Set("OcrEngine", f);
  return exports;
}

// load({ detModel, recModel, dict }, sessionOptions)
Napi::Value OcrEngine::Load(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected an object with detModel, recModel and dict");
  Napi::Object files = info[0].As<Napi::Object>();
  for (const char *k : {"detModel", "recModel", "dict"})
    if (!files.Get(k).IsString()) throw Napi::TypeError::New(env, std::string("Expected a path (string) for ") + k);
  Napi::Object mo = ObjectArg(info[1], "options");
  OcrLoadParams lp;
  lp.mo = ReadModelOptions(mo);
  lp.detThreads = static_cast<int>(NumberKey(mo, "detThreads"));  // -1: as many as threads
  lp.fuse = BoolKey(mo, "fuse");
  return Queue(new LoadWorker(env, files.Get("detModel").As<Napi::String>().Utf8Value(), files.Get("recModel").As<Napi::String>().Utf8Value(),
                              files.Get("dict").As<Napi::String>().Utf8Value(), std::move(lp)));
}

Napi::Value OcrEngine::Read(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto m = Model(env);
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "Expected an array of paths or Buffers for inputs");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<Input> inputs(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (v.IsString()) {
      inputs[i].path = v.As<Napi::String>().Utf8Value();
    } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      auto a = v.As<Napi::Uint8Array>();
      inputs[i].fromFile = false;
      inputs[i].bytes.assign(a.Data(), a.Data() + a.ElementLength());
    } else {
      throw Napi::TypeError::New(env, "Expected a path (string) or a Buffer at inputs[" + std::to_string(i) + "]");
    }
  }
  Napi::Object o = ObjectArg(info[1], "options");
  ReadParams p;
  p.decode.limit = static_cast<int>(NumberKey(o, "limit"));
  p.decode.maxPixels = NumberKey(o, "maxPixels");
  p.decode.autorotate = BoolKey(o, "autorotate");
  p.det.thresh = static_cast<float>(NumberKey(o, "thresh"));
  p.det.boxThresh = static_cast<float>(NumberKey(o, "boxThresh"));
  p.det.unclipRatio = static_cast<float>(NumberKey(o, "unclipRatio"));
  p.det.maxCandidates = static_cast<int>(NumberKey(o, "maxCandidates"));
  p.rec.batch = static_cast<int>(NumberKey(o, "recBatchSize"));
  // 0: one line per run on the CPU (its activations stay in cache: 12-15% less CPU per meme than 6
  // measured), PaddleOCR's 6 on CUDA.
  if (p.rec.batch == 0) p.rec.batch = m->rec->provider() == "cuda" ? 6 : 1;
  p.rec.dropScore = static_cast<float>(NumberKey(o, "minConfidence"));
  p.rec.minWidth = static_cast<int>(NumberKey(o, "recMinWidth"));
  p.rec.spaceScore = static_cast<float>(NumberKey(o, "spaceScore"));
  p.decodeThreads = static_cast<size_t>(NumberKey(o, "decodeThreads"));
  p.workers = static_cast<size_t>(NumberKey(o, "concurrency"));
  p.profile = BoolKey(o, "profile");
  p.maxFileBytes = ReadMaxFileBytes(env, o);
  if (p.decode.limit < 32) throw ToJsError(env, "E_USAGE", "Expected a limit of at least 32 pixels");
  return Queue(new ReadWorker(env, m, std::move(inputs), p));
}

void OcrEngine::FillInfo(Napi::Env env, const OcrModels &m, Napi::Object &o) {
  o.Set("detModel", m.det->path());
  o.Set("recModel", m.rec->path());
  o.Set("dict", m.dictPath);
  o.Set("classes", Napi::Number::New(env, static_cast<double>(m.alphabet.symbols.size())));
  o.Set("threads", Napi::Number::New(env, static_cast<double>(m.workers)));
  o.Set("fused", m.fused);
}

}  // namespace memery
