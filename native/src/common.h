// Shared pieces of the addon: the tensor handle, argument readers and error translation.
// The addon is deliberately thin: every export is one libtorch call on already-validated
// arguments (validation lives in TypeScript, as in sharp). Errors never cross as C++
// exceptions: each op body runs inside SALN_OP, which turns c10::Error and std::exception into
// one JS error class (EngineError) naming the op and the tensors involved.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <string>
#include <vector>

namespace saln {

// Heap object behind each JS tensor handle (a Napi::External). dispose() drops the tensor
// early; the finalizer deletes the box. `reported` is what we told V8 about, so GC feels the
// native memory it cannot see (0 while a tidy() scope owns the tensor).
struct Handle {
  at::Tensor t;
  int64_t reported = 0;
};

Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapMany(Napi::Env env, const std::vector<at::Tensor>& ts);
void Release(Napi::BasicEnv env, Handle* h);
void ReportExternal(Napi::Env env, Handle* h);
std::string Describe(const at::Tensor& t);
at::ScalarType DtypeFromCode(int64_t code);
int64_t CodeFromDtype(at::ScalarType st);
at::Device DeviceFromString(const std::string& s);

// Collects the tensors an op reads, so that an error message can name their shapes/dtypes.
class Call {
 public:
  Call(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}

  at::Tensor& T(size_t i);
  c10::optional<at::Tensor> OptT(size_t i);
  std::vector<at::Tensor> TList(size_t i);
  Handle* H(size_t i);
  int64_t I(size_t i) const { return info_[i].As<Napi::Number>().Int64Value(); }
  double D(size_t i) const { return info_[i].As<Napi::Number>().DoubleValue(); }
  bool B(size_t i) const { return info_[i].As<Napi::Boolean>().Value(); }
  bool Has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  std::string S(size_t i) const { return info_[i].As<Napi::String>().Utf8Value(); }
  std::vector<int64_t> Ints(size_t i) const;
  c10::optional<int64_t> OptI(size_t i) const { return Has(i) ? c10::optional<int64_t>(I(i)) : c10::nullopt; }
  c10::optional<double> OptD(size_t i) const { return Has(i) ? c10::optional<double>(D(i)) : c10::nullopt; }
  at::Scalar Sc(size_t i) const;
  at::TensorOptions Opts(size_t dtypeIdx, size_t deviceIdx) const;
  Napi::Env Env() const { return info_.Env(); }
  const Napi::CallbackInfo& Info() const { return info_; }
  [[noreturn]] void Fail(const std::string& what) const;

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
  // (argument index, tensor): the argument order is kept for messages, since C++ may evaluate
  // an op's arguments in any order.
  std::vector<std::pair<size_t, at::Tensor>> seen_;
};

}  // namespace saln

// Every export: `SALN_OP(name) { ...body using call...; }` — the body returns a Napi::Value.
#define SALN_OP(fn, opname)                                                     \
  static Napi::Value fn##_body(saln::Call& call);                              \
  Napi::Value fn(const Napi::CallbackInfo& info) {                             \
    saln::Call call(info, opname);                                             \
    try {                                                                      \
      return fn##_body(call);                                                  \
    } catch (const Napi::Error&) {                                             \
      throw;                                                                   \
    } catch (const c10::Error& e) {                                            \
      call.Fail(e.what_without_backtrace());                                   \
    } catch (const std::exception& e) {                                        \
      call.Fail(e.what());                                                     \
    }                                                                          \
  }                                                                            \
  static Napi::Value fn##_body(saln::Call& call)

#define SALN_EXPORT(exports, fn) exports.Set(#fn, Napi::Function::New(env, fn, #fn))
