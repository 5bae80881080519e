// VectorIndex: FAISS inner-product search over L2-normalised vectors with 64-bit ids.
// Types: "flat" (exact), "flat-fp16" (exact up to fp16 rounding, half the memory traffic),
// "hnsw" (approximate, for very large catalogs; no removal: rebuild from the catalog instead).
// Files: magic + header (type, dim, count, caller metadata) + FAISS payload + checksum.
#pragma once
#include <napi.h>

#include <memory>
#include <shared_mutex>

namespace faiss {
struct Index;
}

namespace memery {

struct VectorStore {
  std::unique_ptr<faiss::Index> index;
  std::string type;
  int dim = 0;
  std::shared_mutex mu;
};

class VectorIndex : public Napi::ObjectWrap<VectorIndex> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports);
  explicit VectorIndex(const Napi::CallbackInfo &info);

 private:
  static Napi::Value Load(const Napi::CallbackInfo &info);
  Napi::Value Add(const Napi::CallbackInfo &info);
  Napi::Value Remove(const Napi::CallbackInfo &info);
  Napi::Value Search(const Napi::CallbackInfo &info);
  Napi::Value Save(const Napi::CallbackInfo &info);
  Napi::Value Size(const Napi::CallbackInfo &info);
  Napi::Value Dim(const Napi::CallbackInfo &info);
  Napi::Value Type(const Napi::CallbackInfo &info);
  Napi::Value SetSearchParams(const Napi::CallbackInfo &info);
  std::shared_ptr<VectorStore> store_;
};

}  // namespace memery
