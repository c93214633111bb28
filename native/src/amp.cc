// Automatic mixed precision: libtorch's own autocast, entered and left around a JS function by
// src/tensor's autocast() scope (like torch.autocast's __enter__/__exit__). Autocast state is
// thread-local in libtorch and every op runs on the JS thread, so the scope brackets exactly the
// ops issued inside it. Inside, ops on autocast's lower-precision list (conv, matmul, linear) run
// in the scope's dtype, those on its fp32 list in float32; weights stay float32 and are cast once
// per scope (autocast's cache, cleared when the outermost scope exits).
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "addon_data.h"
#include "common.h"

// libtorch 2.4 replaced the per-device functions (set_cpu_enabled, set_autocast_gpu_dtype, ...)
// with ones that take the device type; the old names are deprecated there.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define SALN_AUTOCAST_BY_DEVICE 1
#else
#define SALN_AUTOCAST_BY_DEVICE 0
#endif

namespace saln {

static at::DeviceType AutocastDevice(const std::string& s) {
  if (s == "cpu") return at::kCPU;
  if (s == "cuda") return at::kCUDA;
  throw std::invalid_argument("autocast supports device 'cpu' or 'cuda', got '" + s + "'");
}

static bool IsEnabled(at::DeviceType d) {
#if SALN_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

static void SetEnabled(at::DeviceType d, bool on) {
#if SALN_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCPU) at::autocast::set_cpu_enabled(on);
  else at::autocast::set_enabled(on);
#endif
}

static at::ScalarType GetDtype(at::DeviceType d) {
#if SALN_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

static void SetDtype(at::DeviceType d, at::ScalarType t) {
#if SALN_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == at::kCPU) at::autocast::set_autocast_cpu_dtype(t);
  else at::autocast::set_autocast_gpu_dtype(t);
#endif
}

// autocastEnter(device, enabled, dtypeCode) -> [previous enabled, previous dtypeCode]
SALN_OP(autocastEnter, "autocast") {
  at::DeviceType d = AutocastDevice(call.S(0));
  bool prevOn = IsEnabled(d);
  at::ScalarType prevDtype = GetDtype(d);
  SetEnabled(d, call.B(1));
  SetDtype(d, DtypeFromCode(call.I(2)));
  at::autocast::increment_nesting();
  auto out = Napi::Array::New(call.Env(), 2);
  out.Set(0u, Napi::Boolean::New(call.Env(), prevOn));
  out.Set(1u, Napi::Number::New(call.Env(), static_cast<double>(CodeFromDtype(prevDtype))));
  return out;
}

// autocastExit(device, previous enabled, previous dtypeCode): the weights' casts are dropped when
// the outermost scope exits, since an optimizer step may change the weights next.
SALN_OP(autocastExit, "autocast") {
  at::DeviceType d = AutocastDevice(call.S(0));
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetEnabled(d, call.B(1));
  SetDtype(d, DtypeFromCode(call.I(2)));
  return call.Env().Undefined();
}

// autocastState(device) -> [enabled, dtypeCode]
SALN_OP(autocastState, "autocast") {
  at::DeviceType d = AutocastDevice(call.S(0));
  auto out = Napi::Array::New(call.Env(), 2);
  out.Set(0u, Napi::Boolean::New(call.Env(), IsEnabled(d)));
  out.Set(1u, Napi::Number::New(call.Env(), static_cast<double>(CodeFromDtype(GetDtype(d)))));
  return out;
}

void InitAmp(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, autocastEnter);
  SALN_EXPORT(exports, autocastExit);
  SALN_EXPORT(exports, autocastState);
}

}  // namespace saln
