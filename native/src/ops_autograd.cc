// Autograd: gradient flags, backward, grads, and the global grad mode (the no-grad scope).
// Grad mode is thread-local in libtorch; every op here runs on the JS thread, so a JS-side
// scope that flips it brackets exactly the ops issued inside it.
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

#include "addon_data.h"
#include "common.h"

namespace saln {

SALN_OP(setRequiresGrad, "setRequiresGrad") { call.T(0).set_requires_grad(call.B(1)); return call.Env().Undefined(); }

// backward(t, grad?, retainGraph)
SALN_OP(backward, "backward") {
  at::Tensor& t = call.T(0);
  auto g = call.OptT(1);
  torch::autograd::backward({t}, g ? torch::autograd::variable_list{*g} : torch::autograd::variable_list{},
                            Optional<bool>(call.Has(2) && call.B(2)), false);
  return call.Env().Undefined();
}

// grad(t) -> handle or null
SALN_OP(grad, "grad") {
  const at::Tensor& g = call.T(0).grad();
  if (!g.defined()) return call.Env().Null();
  return Wrap(call.Env(), g);
}

// gradFnName(t) -> the name of the autograd node that made t (PyTorch's t.grad_fn.name()), or null.
SALN_OP(gradFnName, "gradFnName") {
  const auto& fn = call.T(0).grad_fn();
  if (!fn) return call.Env().Null();
  return Napi::String::New(call.Env(), fn->name());
}

// clearGrad(t): set .grad to None (PyTorch's zero_grad(set_to_none=True)).
SALN_OP(clearGrad, "clearGrad") {
  at::Tensor& t = call.T(0);
  if (t.grad().defined()) t.mutable_grad() = at::Tensor();
  return call.Env().Undefined();
}

// setData(t, src): swaps t's data for src's, keeping t's identity (PyTorch's `param.data = …`),
// so a module moved with to(device) keeps the same parameter objects.
SALN_OP(setData, "setData") { call.T(0).set_data(call.T(1)); return call.Env().Undefined(); }

SALN_OP(setGradEnabled, "setGradEnabled") {
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(call.B(0));
  return Napi::Boolean::New(call.Env(), prev);
}
SALN_OP(isGradEnabled, "isGradEnabled") { return Napi::Boolean::New(call.Env(), c10::GradMode::is_enabled()); }

void InitAutograd(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, setRequiresGrad);
  SALN_EXPORT(exports, backward);
  SALN_EXPORT(exports, grad);
  SALN_EXPORT(exports, gradFnName);
  SALN_EXPORT(exports, clearGrad);
  SALN_EXPORT(exports, setData);
  SALN_EXPORT(exports, setGradEnabled);
  SALN_EXPORT(exports, isGradEnabled);
}

}  // namespace saln
