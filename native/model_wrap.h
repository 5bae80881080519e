// The common part of the model wrappers (ImageEncoder, TextEncoder, OcrEngine): a JS object holding
// a loaded model (shared with the workers that use it), made only by the class's static load(),
// closed by close(); every method on a closed one is an E_MODEL error.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "common.h"

namespace memery {

// The ONNX Runtime provider a model runs on (info().provider): its session's. A model of several
// sessions (OcrModels) has an overload beside it, found by argument-dependent lookup.
template <typename ModelT>
auto ProviderOf(const ModelT &m) -> decltype(m.model->provider()) {
  return m.model->provider();
}

template <typename Derived, typename ModelT>
class ModelWrap : public Napi::ObjectWrap<Derived> {
 public:
  // `what`: "image encoder", "text encoder", "OCR engine"; `className`: the JS class; `loadArgs`:
  // the parameters of its load(), for the message when it is constructed directly.
  ModelWrap(const Napi::CallbackInfo &info, const char *className, const char *what, const char *loadArgs = "path, options")
      : Napi::ObjectWrap<Derived>(info), what_(what) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), std::string("Use ") + className + ".load(" + loadArgs + ") to create " +
                                                 (std::string("aeiouAEIOU").find(what_[0]) != std::string::npos ? "an " : "a ") + what_);
    model_ = *info[0].As<Napi::External<std::shared_ptr<ModelT>>>().Data();
  }

  // The JS object for a model a load worker made (on the JS thread, in its Result).
  static Napi::Value Wrap(Napi::FunctionReference &ctor, Napi::Env env, std::shared_ptr<ModelT> &model) {
    return ctor.New({Napi::External<std::shared_ptr<ModelT>>::New(env, &model)});
  }

  // The close() and info() methods, for DefineClass.
  static typename Napi::ObjectWrap<Derived>::PropertyDescriptor CloseMethod() {
    return Napi::ObjectWrap<Derived>::InstanceMethod("close", static_cast<Napi::Value (Derived::*)(const Napi::CallbackInfo &)>(&ModelWrap::Close));
  }
  static typename Napi::ObjectWrap<Derived>::PropertyDescriptor InfoMethod() {
    return Napi::ObjectWrap<Derived>::InstanceMethod("info", static_cast<Napi::Value (Derived::*)(const Napi::CallbackInfo &)>(&ModelWrap::Info));
  }

 protected:
  std::shared_ptr<ModelT> Model(Napi::Env env) {
    if (!model_) throw ToJsError(env, "E_MODEL", std::string("The ") + what_ + " is closed");
    return model_;
  }
  // What info() reports beyond the provider (which every model has).
  virtual void FillInfo(Napi::Env env, const ModelT &m, Napi::Object &o) = 0;

  template <typename W>
  static Napi::Value Queue(W *w) {
    auto p = w->Promise();
    w->Queue();
    return p;
  }

 private:
  Napi::Value Close(const Napi::CallbackInfo &info) {
    model_.reset();
    return info.Env().Undefined();
  }
  Napi::Value Info(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    auto m = Model(env);
    Napi::Object o = Napi::Object::New(env);
    FillInfo(env, *m, o);
    o.Set("provider", ProviderOf(*m));
    return o;
  }

  const char *what_;
  std::shared_ptr<ModelT> model_;
};

}  // namespace memery
