// The common part of the encoder wrappers (ImageEncoder, TextEncoder): a JS object holding a
// loaded model (shared with the workers that use it), made only by the class's static load(),
// closed by close(); every method on a closed one is an E_MODEL error.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "common.h"

namespace memery {

template <typename Derived, typename ModelT>
class ModelWrap : public Napi::ObjectWrap<Derived> {
 public:
  // `what`: "image encoder", "text encoder"; `className`: the JS class.
  ModelWrap(const Napi::CallbackInfo &info, const char *className, const char *what)
      : Napi::ObjectWrap<Derived>(info), what_(what) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), std::string("Use ") + className + ".load(path, options) to create " +
                                                 (what_[0] == 'i' ? "an " : "a ") + what_);
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
    o.Set("provider", m->model->provider());
    return o;
  }

  const char *what_;
  std::shared_ptr<ModelT> model_;
};

}  // namespace memery
