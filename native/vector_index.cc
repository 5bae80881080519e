#include "vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <unordered_set>

#include "common.h"

namespace memery {


namespace {

const char kMagic[8] = {'M', 'E', 'M', 'E', 'R', 'Y', 'I', 'X'};
const uint32_t kVersion = 1;

// A fast 64-bit checksum over 8-byte words (multiply-xorshift), enough to detect damage.
uint64_t Checksum(const uint8_t *p, size_t n, uint64_t h = 0x9E3779B97F4A7C15ull) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h ^= w * 0xff51afd7ed558ccdull;
    h = (h << 27 | h >> 37) * 0xc4ceb9fe1a85ec53ull;
  }
  for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  h ^= n;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

std::unique_ptr<faiss::Index> MakeIndex(const std::string &type, int dim, int hnswM) {
  if (type == "flat") return std::make_unique<faiss::IndexIDMap2>(new faiss::IndexFlatIP(dim));
  if (type == "flat-fp16")
    return std::make_unique<faiss::IndexIDMap2>(
        new faiss::IndexScalarQuantizer(dim, faiss::ScalarQuantizer::QT_fp16, faiss::METRIC_INNER_PRODUCT));
  if (type == "hnsw") {
    auto *h = new faiss::IndexHNSWFlat(dim, hnswM, faiss::METRIC_INNER_PRODUCT);
    // FAISS's default efSearch (16) gives recall@10 of ~0.6 on 10k random 64-d vectors; 96 gives
    // ~0.98 at ~0.25 ms per query. Saved with the index; setSearchParams changes it.
    h->hnsw.efSearch = 96;
    return std::make_unique<faiss::IndexIDMap2>(h);
  }
  throw Error("E_USAGE", "Expected 'flat', 'flat-fp16' or 'hnsw' for index type but received '" + type + "'");
}

void OwnSub(faiss::Index *idx) {
  if (auto *m = dynamic_cast<faiss::IndexIDMap *>(idx)) m->own_fields = true;
}

class AddWorker : public PromiseWorker {
 public:
  AddWorker(Napi::Env env, std::shared_ptr<VectorStore> s, std::vector<faiss::Index::idx_t> ids, std::vector<float> v)
      : PromiseWorker(env), s_(std::move(s)), ids_(std::move(ids)), v_(std::move(v)) {}
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(s_->mu);
    try {
      s_->index->add_with_ids(ids_.size(), v_.data(), ids_.data());
    } catch (const faiss::FaissException &e) {
      throw Error("E_INDEX", std::string("Cannot add to the index: ") + e.what());
    }
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(s_->index->ntotal)); }

 private:
  std::shared_ptr<VectorStore> s_;
  std::vector<faiss::Index::idx_t> ids_;
  std::vector<float> v_;
};

class RemoveWorker : public PromiseWorker {
 public:
  RemoveWorker(Napi::Env env, std::shared_ptr<VectorStore> s, std::vector<faiss::Index::idx_t> ids)
      : PromiseWorker(env), s_(std::move(s)), ids_(std::move(ids)) {}
  void Run() override {
    std::unique_lock<std::shared_mutex> lock(s_->mu);
    try {
      faiss::IDSelectorBatch sel(ids_.size(), ids_.data());
      removed_ = s_->index->remove_ids(sel);
    } catch (const faiss::FaissException &e) {
      throw Error("E_INDEX", "Cannot remove from a '" + s_->type + "' index (rebuild it instead): " + e.what());
    }
  }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(removed_)); }

 private:
  std::shared_ptr<VectorStore> s_;
  std::vector<faiss::Index::idx_t> ids_;
  size_t removed_ = 0;
};

// Below this many selected vectors (or a twentieth of the index), a filtered hnsw search ranks
// the selected vectors exactly (on the graph's flat storage): the graph walk, which only skips the
// others, finds few of a small selection.
const size_t kExactSelection = 4096;

class SearchWorker : public PromiseWorker {
 public:
  // `within`: when `filtered`, only these ids are ranked (the others are never candidates).
  SearchWorker(Napi::Env env, std::shared_ptr<VectorStore> s, std::vector<float> q, size_t nq, size_t k,
               bool filtered, std::vector<faiss::Index::idx_t> within)
      : PromiseWorker(env), s_(std::move(s)), q_(std::move(q)), nq_(nq), k_(k), filtered_(filtered), within_(std::move(within)) {}
  void Run() override {
    std::shared_lock<std::shared_mutex> lock(s_->mu);
    const faiss::Index *index = s_->index.get();
    const size_t ntotal = static_cast<size_t>(std::max<faiss::Index::idx_t>(index->ntotal, 0));
    try {
      if (filtered_) {
        SearchWithin(ntotal);
        return;
      }
      k_ = std::min(k_, ntotal);
      ids_.assign(nq_ * k_, -1);
      scores_.assign(nq_ * k_, 0.0f);
      if (k_ == 0) return;
      index->search(nq_, q_.data(), k_, scores_.data(), ids_.data());
    } catch (const faiss::FaissException &e) {
      throw Error("E_INDEX", std::string("Search failed: ") + e.what());
    }
  }

  // The selection applies to the positions in the sub-index (FAISS 1.7.3's IndexIDMap takes no
  // search parameters): a bitmap of the positions of the wanted ids, then positions back to ids.
  void SearchWithin(size_t ntotal) {
    auto *map = dynamic_cast<const faiss::IndexIDMap *>(s_->index.get());
    if (!map) throw Error("E_INDEX", "Search failed: a filtered search needs an index with ids");
    std::vector<uint8_t> bits((ntotal + 7) / 8, 0);
    size_t count = 0;
    auto select = [&](faiss::Index::idx_t pos) {
      if (pos < 0 || static_cast<size_t>(pos) >= ntotal) return;
      uint8_t &b = bits[pos >> 3];
      const uint8_t bit = static_cast<uint8_t>(1u << (pos & 7));
      if (!(b & bit)) {
        b |= bit;
        count++;
      }
    };
    if (auto *map2 = dynamic_cast<const faiss::IndexIDMap2 *>(map)) {
      for (auto id : within_) {
        auto it = map2->rev_map.find(id);
        if (it != map2->rev_map.end()) select(it->second);
      }
    } else {
      std::unordered_set<faiss::Index::idx_t> want(within_.begin(), within_.end());
      for (size_t p = 0; p < map->id_map.size(); p++)
        if (want.count(map->id_map[p])) select(static_cast<faiss::Index::idx_t>(p));
    }
    k_ = std::min(k_, count);
    ids_.assign(nq_ * k_, -1);
    scores_.assign(nq_ * k_, 0.0f);
    if (k_ == 0) return;
    if (count == ntotal) {  // everything is selected: the plain search (BLAS for flat)
      map->search(nq_, q_.data(), k_, scores_.data(), ids_.data());
      return;
    }
    faiss::IDSelectorBitmap sel(ntotal, bits.data());
    const faiss::Index *sub = map->index;
    if (auto *hnsw = dynamic_cast<const faiss::IndexHNSW *>(sub)) {
      if (count <= kExactSelection || count * 20 <= ntotal) {
        faiss::SearchParameters p;
        p.sel = &sel;
        hnsw->storage->search(nq_, q_.data(), k_, scores_.data(), ids_.data(), &p);
      } else {
        faiss::SearchParametersHNSW p;
        p.sel = &sel;
        p.efSearch = hnsw->hnsw.efSearch;
        hnsw->search(nq_, q_.data(), k_, scores_.data(), ids_.data(), &p);
      }
    } else {
      faiss::SearchParameters p;
      p.sel = &sel;
      sub->search(nq_, q_.data(), k_, scores_.data(), ids_.data(), &p);
    }
    for (auto &id : ids_)
      if (id >= 0) id = map->id_map[static_cast<size_t>(id)];
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    auto ids = Napi::Float64Array::New(env, ids_.size());
    for (size_t i = 0; i < ids_.size(); i++) ids.Data()[i] = static_cast<double>(ids_[i]);
    auto sc = Napi::Float32Array::New(env, scores_.size());
    std::copy(scores_.begin(), scores_.end(), sc.Data());
    r.Set("ids", ids);
    r.Set("scores", sc);
    r.Set("k", Napi::Number::New(env, static_cast<double>(k_)));
    return r;
  }

 private:
  std::shared_ptr<VectorStore> s_;
  std::vector<float> q_;
  size_t nq_, k_;
  bool filtered_;
  std::vector<faiss::Index::idx_t> within_;
  std::vector<faiss::Index::idx_t> ids_;
  std::vector<float> scores_;
};

void WriteAll(std::FILE *f, const void *p, size_t n, const std::string &path) {
  if (std::fwrite(p, 1, n, f) != n) throw Error("E_IO", "Cannot write index file " + path + ": " + std::strerror(errno), path);
}

class SaveWorker : public PromiseWorker {
 public:
  SaveWorker(Napi::Env env, std::shared_ptr<VectorStore> s, std::string path, std::string meta)
      : PromiseWorker(env), s_(std::move(s)), path_(std::move(path)), meta_(std::move(meta)) {}
  void Run() override {
    faiss::VectorIOWriter w;
    std::string header;
    {
      std::shared_lock<std::shared_mutex> lock(s_->mu);
      try {
        faiss::write_index(s_->index.get(), &w);
      } catch (const faiss::FaissException &e) {
        throw Error("E_INDEX", std::string("Cannot serialise the index: ") + e.what(), path_);
      }
      header = s_->type;
    }
    std::string tmp = path_ + ".tmp";
    std::FILE *f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error("E_IO", "Cannot write index file " + tmp + ": " + std::strerror(errno), tmp);
    try {
      uint32_t u[3] = {kVersion, static_cast<uint32_t>(header.size()), static_cast<uint32_t>(meta_.size())};
      uint64_t payload = w.data.size();
      uint64_t sum = Checksum(reinterpret_cast<const uint8_t *>(meta_.data()), meta_.size());
      sum = Checksum(w.data.data(), w.data.size(), sum);
      WriteAll(f, kMagic, 8, tmp);
      WriteAll(f, u, sizeof u, tmp);
      WriteAll(f, header.data(), header.size(), tmp);
      WriteAll(f, meta_.data(), meta_.size(), tmp);
      WriteAll(f, &payload, 8, tmp);
      WriteAll(f, w.data.data(), w.data.size(), tmp);
      WriteAll(f, &sum, 8, tmp);
      if (std::fflush(f) != 0) throw Error("E_IO", "Cannot write index file " + tmp, tmp);
    } catch (...) {
      std::fclose(f);
      std::remove(tmp.c_str());
      throw;
    }
    std::fclose(f);
    if (std::rename(tmp.c_str(), path_.c_str()) != 0)
      throw Error("E_IO", "Cannot move index file into place at " + path_ + ": " + std::strerror(errno), path_);
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<VectorStore> s_;
  std::string path_, meta_;
};

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path) : PromiseWorker(env), path_(std::move(path)) {}
  void Run() override {
    // A directory opens as an ifstream on Linux and reports an absurd size (bad_alloc below).
    struct stat st;
    if (stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw Error("E_INDEX", "Cannot read index file " + path_ + ": not a regular file", path_);
    std::ifstream in(path_, std::ios::binary | std::ios::ate);
    if (!in) throw Error("E_INDEX", "Cannot open index file " + path_ + ": " + std::strerror(errno), path_);
    std::streamsize size = in.tellg();
    in.seekg(0);
    std::vector<uint8_t> buf(static_cast<size_t>(std::max<std::streamsize>(size, 0)));
    if (size > 0 && !in.read(reinterpret_cast<char *>(buf.data()), size))
      throw Error("E_INDEX", "Cannot read index file " + path_, path_);
    auto damaged = [&](const std::string &why) { return Error("E_INDEX", "Index file " + path_ + " is damaged: " + why, path_); };
    size_t pos = 0;
    auto need = [&](size_t n) {
      if (pos + n > buf.size()) throw damaged("truncated (" + std::to_string(buf.size()) + " bytes)");
    };
    need(8 + 12);
    if (std::memcmp(buf.data(), kMagic, 8) != 0) throw damaged("not a memery index file");
    uint32_t u[3];
    std::memcpy(u, buf.data() + 8, sizeof u);
    pos = 20;
    if (u[0] != kVersion) throw damaged("unsupported version " + std::to_string(u[0]));
    need(u[1]);
    std::string type(reinterpret_cast<char *>(buf.data() + pos), u[1]);
    pos += u[1];
    need(u[2]);
    meta_.assign(reinterpret_cast<char *>(buf.data() + pos), u[2]);
    pos += u[2];
    need(8);
    uint64_t payload;
    std::memcpy(&payload, buf.data() + pos, 8);
    pos += 8;
    if (payload > buf.size() - pos) throw damaged("truncated payload");
    need(payload + 8);
    uint64_t sum = Checksum(reinterpret_cast<const uint8_t *>(meta_.data()), meta_.size());
    sum = Checksum(buf.data() + pos, payload, sum);
    uint64_t stored;
    std::memcpy(&stored, buf.data() + pos + payload, 8);
    if (stored != sum) throw damaged("checksum mismatch");
    if (pos + payload + 8 != buf.size()) throw damaged("trailing bytes");
    faiss::VectorIOReader r;
    r.data.assign(buf.begin() + pos, buf.begin() + pos + payload);
    buf.clear();
    buf.shrink_to_fit();
    store_ = std::make_shared<VectorStore>();
    try {
      store_->index.reset(faiss::read_index(&r));
    } catch (const faiss::FaissException &e) {
      throw damaged(e.what());
    }
    OwnSub(store_->index.get());
    store_->type = type;
    store_->dim = store_->index->d;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("index", Data(env).vectorIndex.New({Napi::External<std::shared_ptr<VectorStore>>::New(env, &store_)}));
    r.Set("meta", meta_);
    return r;
  }

 private:
  std::string path_, meta_;
  std::shared_ptr<VectorStore> store_;
};

std::vector<faiss::Index::idx_t> ReadIds(const Napi::Value &v) {
  std::vector<faiss::Index::idx_t> ids;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    auto a = v.As<Napi::Float64Array>();
    ids.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (v.IsArray()) {
    Napi::Array a = v.As<Napi::Array>();
    ids.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) ids[i] = a.Get(i).As<Napi::Number>().Int64Value();
  } else {
    throw Napi::TypeError::New(v.Env(), "Expected an array of integer ids");
  }
  return ids;
}

std::vector<float> ReadVectors(const Napi::Value &v, size_t dim, const char *what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), std::string("Expected a Float32Array for ") + what);
  auto a = v.As<Napi::Float32Array>();
  if (a.ElementLength() % dim != 0)
    throw ToJsError(v.Env(), "E_USAGE", std::string("Expected a multiple of ") + std::to_string(dim) + " floats for " + what);
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

}  // namespace

Napi::Object VectorIndex::Init(Napi::Env env, Napi::Object exports) {
  // Exact search of even one query goes through BLAS (OpenBLAS sgemm, vectorised and threaded)
  // rather than FAISS's per-vector loop, which the distribution's generic build runs as scalar
  // code (~10x slower on 512-d vectors).
  faiss::distance_compute_blas_threshold = 1;
  Napi::Function f = DefineClass(env, "VectorIndex",
                                 {StaticMethod<&VectorIndex::Load>("load"), InstanceMethod<&VectorIndex::Add>("add"),
                                  InstanceMethod<&VectorIndex::Remove>("remove"), InstanceMethod<&VectorIndex::Search>("search"),
                                  InstanceMethod<&VectorIndex::Save>("save"), InstanceMethod<&VectorIndex::Size>("size"),
                                  InstanceMethod<&VectorIndex::Dim>("dim"), InstanceMethod<&VectorIndex::Type>("type"),
                                  InstanceMethod<&VectorIndex::SetSearchParams>("setSearchParams")});
  Data(env).vectorIndex = Napi::Persistent(f);
  exports.Set("VectorIndex", f);
  return exports;
}

// new VectorIndex(dim, { type, hnswM }) or (internal) new VectorIndex(External<store>)
VectorIndex::VectorIndex(const Napi::CallbackInfo &info) : Napi::ObjectWrap<VectorIndex>(info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsExternal()) {
    store_ = *info[0].As<Napi::External<std::shared_ptr<VectorStore>>>().Data();
    return;
  }
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "Expected a dimension (number)");
  int dim = info[0].As<Napi::Number>().Int32Value();
  if (dim <= 0 || dim > 65536) throw ToJsError(env, "E_USAGE", "Expected a dimension between 1 and 65536 but received " + std::to_string(dim));
  Napi::Object o = ObjectArg(info[1], "options");
  std::string type = StringKey(o, "type");
  int m = static_cast<int>(NumberKey(o, "hnswM"));
  store_ = std::make_shared<VectorStore>();
  try {
    store_->index = MakeIndex(type, dim, m);
  } catch (const Error &e) {
    throw ToJsError(env, e.code, e.what());
  }
  OwnSub(store_->index.get());
  store_->type = type;
  store_->dim = dim;
}

#define QUEUE(worker)        \
  auto *w = worker;          \
  auto p = w->Promise();     \
  w->Queue();                \
  return p

Napi::Value VectorIndex::Load(const Napi::CallbackInfo &info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected a path (string)");
  QUEUE(new LoadWorker(info.Env(), info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value VectorIndex::Add(const Napi::CallbackInfo &info) {
  auto ids = ReadIds(info[0]);
  auto v = ReadVectors(info[1], store_->dim, "vectors");
  if (v.size() / store_->dim != ids.size())
    throw ToJsError(info.Env(), "E_USAGE", "Expected " + std::to_string(ids.size()) + " vectors for " + std::to_string(ids.size()) + " ids but received " + std::to_string(v.size() / store_->dim));
  QUEUE(new AddWorker(info.Env(), store_, std::move(ids), std::move(v)));
}

Napi::Value VectorIndex::Remove(const Napi::CallbackInfo &info) { QUEUE(new RemoveWorker(info.Env(), store_, ReadIds(info[0]))); }

Napi::Value VectorIndex::Search(const Napi::CallbackInfo &info) {
  auto q = ReadVectors(info[0], store_->dim, "queries");
  if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "Expected k (number)");
  int64_t k = info[1].As<Napi::Number>().Int64Value();
  if (k < 0) throw ToJsError(info.Env(), "E_USAGE", "Expected k >= 0 but received " + std::to_string(k));
  size_t nq = q.size() / store_->dim;
  // search(queries, k, within?): within, an array of ids, restricts the search to them.
  const bool filtered = info.Length() > 2 && !info[2].IsUndefined();
  std::vector<faiss::Index::idx_t> within;
  if (filtered) within = ReadIds(info[2]);
  QUEUE(new SearchWorker(info.Env(), store_, std::move(q), nq, static_cast<size_t>(k), filtered, std::move(within)));
}

Napi::Value VectorIndex::Save(const Napi::CallbackInfo &info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "Expected a path (string)");
  std::string meta = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  QUEUE(new SaveWorker(info.Env(), store_, info[0].As<Napi::String>().Utf8Value(), std::move(meta)));
}

Napi::Value VectorIndex::Size(const Napi::CallbackInfo &info) {
  std::shared_lock<std::shared_mutex> lock(store_->mu);
  return Napi::Number::New(info.Env(), static_cast<double>(store_->index->ntotal));
}
Napi::Value VectorIndex::Dim(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), store_->dim); }
Napi::Value VectorIndex::Type(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), store_->type); }

Napi::Value VectorIndex::SetSearchParams(const Napi::CallbackInfo &info) {
  Napi::Object o = ObjectArg(info[0], "params");
  // Each key is optional here: only the ones given change.
  Napi::Value ef = o.Get("efSearch");
  if (!ef.IsUndefined() && !ef.IsNumber()) ThrowExpected(ef, "a number", "efSearch");
  std::unique_lock<std::shared_mutex> lock(store_->mu);
  if (auto *m = dynamic_cast<faiss::IndexIDMap *>(store_->index.get()))
    if (auto *h = dynamic_cast<faiss::IndexHNSW *>(m->index))
      if (ef.IsNumber()) h->hnsw.efSearch = ef.As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

}  // namespace memery
