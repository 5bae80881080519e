// Shared helpers: the error type every native operation throws, and its conversion to a JS Error
// with `code` and `path` properties.
#pragma once
#include <napi.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace memery {

// Error codes are part of the public API (mirrored in ts/errors.ts).
struct Error : std::runtime_error {
  std::string code;
  std::string path;
  Error(std::string code_, const std::string &message, std::string path_ = "")
      : std::runtime_error(message), code(std::move(code_)), path(std::move(path_)) {}
};

inline Napi::Error ToJsError(Napi::Env env, const std::string &code, const std::string &message,
                             const std::string &path = "") {
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  if (!path.empty()) err.Value().Set("path", Napi::String::New(env, path));
  return err;
}

// Per-environment state: the main thread and every worker thread that loads the addon get their
// own (a process-wide static FunctionReference, overwritten by the last Init, crashed node as
// soon as the addon was used from a worker thread and from the main thread).
struct AddonData {
  Napi::FunctionReference imageEncoder, textEncoder, vectorIndex, ocrEngine;
};
inline AddonData &Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

// One failed file of a batch operation.
struct FileError {
  uint32_t index;
  std::string path;
  std::string code;
  std::string message;
};

inline Napi::Array FileErrorsToJs(Napi::Env env, const std::vector<FileError> &errors) {
  Napi::Array arr = Napi::Array::New(env, errors.size());
  for (size_t i = 0; i < errors.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", errors[i].index);
    o.Set("path", errors[i].path);
    o.Set("code", errors[i].code);
    o.Set("message", errors[i].message);
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

// An AsyncWorker whose Execute may throw memery::Error; the promise rejects with code + path.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  void Execute() final {
    try {
      Run();
    } catch (const Error &e) {
      code_ = e.code;
      path_ = e.path;
      SetError(e.what());
    } catch (const std::bad_alloc &) {
      code_ = "E_NOMEM";
      SetError("out of memory");
    } catch (const std::exception &e) {
      code_ = "E_NATIVE";
      SetError(e.what());
    }
  }
  void OnOK() final {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error &e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error &e) final {
    deferred_.Reject(ToJsError(Env(), code_.empty() ? "E_NATIVE" : code_, e.Message(), path_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string code_;
  std::string path_;
};

// Argument helpers: validation lives in TypeScript; these only guard against misuse.
inline std::vector<std::string> StringArray(const Napi::Value &v, const char *what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("Expected an array of strings for ") + what);
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throw Napi::TypeError::New(v.Env(), std::string("Expected a string in ") + what);
    out.push_back(e.As<Napi::String>().Utf8Value());
  }
  return out;
}

// Option objects come from TypeScript with every key set (the zod schemas in ts/native fill the
// defaults: defaults live there only). A missing key is a programming error, reported as sharp does.
inline const char *TypeName(const Napi::Value &v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
    default: return v.IsArray() ? "array" : "object";
  }
}
[[noreturn]] inline void ThrowExpected(const Napi::Value &v, const char *what, const char *key) {
  throw Napi::TypeError::New(v.Env(), std::string("Expected ") + what + " for " + key + " but received " + TypeName(v));
}
inline Napi::Object ObjectArg(const Napi::Value &v, const char *name) {
  if (!v.IsObject()) ThrowExpected(v, "an object", name);
  return v.As<Napi::Object>();
}
inline double NumberKey(const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowExpected(v, "a number", key);
  return v.As<Napi::Number>().DoubleValue();
}
inline bool BoolKey(const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) ThrowExpected(v, "a boolean", key);
  return v.As<Napi::Boolean>().Value();
}
inline std::string StringKey(const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) ThrowExpected(v, "a string", key);
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace memery
