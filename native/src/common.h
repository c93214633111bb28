// Shared pieces of the addon: the tensor handle, argument readers and error translation.
// The addon is deliberately thin: every export is one libtorch call on already-validated
// arguments (validation lives in TypeScript, as in sharp). Errors never cross as C++
// exceptions: each op body runs inside SALN_OP, which turns c10::Error and std::exception into
// one JS error class (EngineError) naming the op and the tensors involved.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>
#include <torch/version.h>

#include <optional>
#include <string>
#include <vector>

namespace saln {

// Optional arguments of ATen calls. libtorch 1.x has its own c10::optional; from 2.2 it is an
// alias of std::optional, deprecated, and gone under C10_NODEPRECATED (and, one day, for good).
// std::optional from 2.3 on (the alias is certain there), c10::optional before.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
template <class T>
using Optional = std::optional<T>;
inline constexpr std::nullopt_t kNone = std::nullopt;
#else
template <class T>
using Optional = c10::optional<T>;
inline constexpr c10::nullopt_t kNone = c10::nullopt;
#endif

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
  Optional<at::Tensor> OptT(size_t i);
  std::vector<at::Tensor> TList(size_t i);
  Handle* H(size_t i);
  int64_t I(size_t i) const { return info_[i].As<Napi::Number>().Int64Value(); }
  double D(size_t i) const { return info_[i].As<Napi::Number>().DoubleValue(); }
  bool B(size_t i) const { return info_[i].As<Napi::Boolean>().Value(); }
  bool Has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  std::string S(size_t i) const { return info_[i].As<Napi::String>().Utf8Value(); }
  std::vector<int64_t> Ints(size_t i) const;
  Optional<int64_t> OptI(size_t i) const { return Has(i) ? Optional<int64_t>(I(i)) : kNone; }
  Optional<double> OptD(size_t i) const { return Has(i) ? Optional<double>(D(i)) : kNone; }
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
