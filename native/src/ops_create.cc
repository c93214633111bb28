// Creation, host transfer, random numbers, dtype/device moves and handle lifetime.
#include <cstring>

#include "addon_data.h"
#include "common.h"

namespace saln {

// fromBuffer(typedArray, shape, dtypeCode, device?): copies the bytes, since the JS buffer may
// be reused or collected while the tensor lives.
SALN_OP(fromBuffer, "fromBuffer") {
  auto ta = call.Info()[0].As<Napi::TypedArray>();
  auto shape = call.Ints(1);
  auto dtype = DtypeFromCode(call.I(2));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  size_t want = t.nbytes();
  if (ta.ByteLength() != want) {
    call.Fail("buffer holds " + std::to_string(ta.ByteLength()) + " bytes but shape needs " + std::to_string(want));
  }
  auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (want) std::memcpy(t.data_ptr(), src, want);
  if (call.Has(3)) t = t.to(DeviceFromString(call.S(3)));
  return Wrap(call.Env(), t);
}

// toBuffer(t) -> ArrayBuffer with the tensor's elements in C order, copied to host memory.
SALN_OP(toBuffer, "toBuffer") {
  at::Tensor t = call.T(0).detach().to(at::kCPU).contiguous();
  auto ab = Napi::ArrayBuffer::New(call.Env(), t.nbytes());
  if (t.nbytes()) std::memcpy(ab.Data(), t.data_ptr(), t.nbytes());
  return ab;
}

SALN_OP(item, "item") {
  at::Tensor& t = call.T(0);
  if (t.numel() != 1) call.Fail("item() needs a tensor with one element, got " + std::to_string(t.numel()));
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(call.Env(), t.item<bool>());
  return Napi::Number::New(call.Env(), t.item<double>());
}

// meta(t) -> [shape, dtypeCode, device, requiresGrad]; one crossing for all of it.
SALN_OP(meta, "meta") {
  at::Tensor& t = call.T(0);
  auto env = call.Env();
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  auto out = Napi::Array::New(env, 4);
  out.Set(0u, shape);
  out.Set(1u, Napi::Number::New(env, static_cast<double>(CodeFromDtype(t.scalar_type()))));
  out.Set(2u, Napi::String::New(env, t.device().str()));
  out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
  return out;
}

SALN_OP(shapeOf, "shapeOf") {
  at::Tensor& t = call.T(0);
  auto env = call.Env();
  auto shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
  return shape;
}

SALN_OP(dispose, "dispose") {
  Release(call.Env(), call.H(0));
  return call.Env().Undefined();
}

// setScoped(on) -> previous: tensors created while on are owned by a tidy() scope.
SALN_OP(setScoped, "setScoped") {
  auto* data = call.Env().GetInstanceData<AddonData>();
  bool prev = data->scoped;
  data->scoped = call.B(0);
  return Napi::Boolean::New(call.Env(), prev);
}

// reportExternal(handle): the tensor outlives every scope, so GC must feel its memory from now on.
SALN_OP(reportExternal, "reportExternal") {
  ReportExternal(call.Env(), call.H(0));  // a disposed tensor reports 0 bytes
  return call.Env().Undefined();
}

// reportedBytes(handle): what this tensor counts toward V8's external memory (for tests).
SALN_OP(reportedBytes, "reportedBytes") { return Napi::Number::New(call.Env(), static_cast<double>(call.H(0)->reported)); }

SALN_OP(isDisposed, "isDisposed") { return Napi::Boolean::New(call.Env(), !call.H(0)->t.defined()); }

// full(shape, value, dtypeCode, device?)
SALN_OP(full, "full") { return Wrap(call.Env(), at::full(call.Ints(0), call.Sc(1), call.Opts(2, 3))); }
SALN_OP(zeros, "zeros") { return Wrap(call.Env(), at::zeros(call.Ints(0), call.Opts(1, 2))); }
SALN_OP(ones, "ones") { return Wrap(call.Env(), at::ones(call.Ints(0), call.Opts(1, 2))); }
SALN_OP(empty, "empty") { return Wrap(call.Env(), at::empty(call.Ints(0), call.Opts(1, 2))); }
SALN_OP(eye, "eye") { return Wrap(call.Env(), at::eye(call.I(0), call.Opts(1, 2))); }
// arange(start, end, step, dtypeCode, device?)
SALN_OP(arange, "arange") { return Wrap(call.Env(), at::arange(call.Sc(0), call.Sc(1), call.Sc(2), call.Opts(3, 4))); }
SALN_OP(linspace, "linspace") { return Wrap(call.Env(), at::linspace(call.D(0), call.D(1), call.I(2), call.Opts(3, 4))); }
SALN_OP(randn, "randn") { return Wrap(call.Env(), at::randn(call.Ints(0), call.Opts(1, 2))); }
SALN_OP(rand, "rand") { return Wrap(call.Env(), at::rand(call.Ints(0), call.Opts(1, 2))); }
// randint(low, high, shape, dtypeCode, device?)
SALN_OP(randint, "randint") { return Wrap(call.Env(), at::randint(call.I(0), call.I(1), call.Ints(2), call.Opts(3, 4))); }
SALN_OP(randperm, "randperm") { return Wrap(call.Env(), at::randperm(call.I(0), call.Opts(1, 2))); }
SALN_OP(bernoulli, "bernoulli") { return Wrap(call.Env(), at::bernoulli(call.T(0))); }
// multinomial(probs, n, replacement)
SALN_OP(multinomial, "multinomial") { return Wrap(call.Env(), at::multinomial(call.T(0), call.I(1), call.B(2))); }

// In-place fills used by initializers.
SALN_OP(uniform_, "uniform_") { call.T(0).uniform_(call.D(1), call.D(2)); return call.Env().Undefined(); }
SALN_OP(normal_, "normal_") { call.T(0).normal_(call.D(1), call.D(2)); return call.Env().Undefined(); }
SALN_OP(fill_, "fill_") { call.T(0).fill_(call.Sc(1)); return call.Env().Undefined(); }
SALN_OP(zero_, "zero_") { call.T(0).zero_(); return call.Env().Undefined(); }
SALN_OP(copy_, "copy_") { call.T(0).copy_(call.T(1)); return call.Env().Undefined(); }

// to(t, dtypeCode|null, device|null, copy, memoryFormat?): memoryFormat is an at::MemoryFormat
// value (opCodes.memoryFormat); absent = Preserve, as Tensor.to's default.
SALN_OP(to, "to") {
  at::Tensor& t = call.T(0);
  auto dtype = call.Has(1) ? DtypeFromCode(call.I(1)) : t.scalar_type();
  auto device = call.Has(2) ? DeviceFromString(call.S(2)) : t.device();
  bool copy = call.Has(3) && call.B(3);
  auto fmt = call.Has(4) ? static_cast<at::MemoryFormat>(call.I(4)) : at::MemoryFormat::Preserve;
  return Wrap(call.Env(), t.to(device, dtype, /*non_blocking=*/false, copy, fmt));
}

SALN_OP(clone, "clone") { return Wrap(call.Env(), call.T(0).clone()); }
SALN_OP(detach, "detach") { return Wrap(call.Env(), call.T(0).detach()); }
// contiguous(t, memoryFormat) / isContiguous(t, memoryFormat): an at::MemoryFormat value
// (opCodes.memoryFormat). Channels-last (NHWC strides) is what oneDNN's fast convs want.
SALN_OP(contiguous, "contiguous") { return Wrap(call.Env(), call.T(0).contiguous(static_cast<at::MemoryFormat>(call.I(1)))); }
SALN_OP(isContiguous, "isContiguous") {
  return Napi::Boolean::New(call.Env(), call.T(0).is_contiguous(static_cast<at::MemoryFormat>(call.I(1))));
}

void InitCreate(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, fromBuffer);
  SALN_EXPORT(exports, toBuffer);
  SALN_EXPORT(exports, item);
  SALN_EXPORT(exports, meta);
  SALN_EXPORT(exports, shapeOf);
  SALN_EXPORT(exports, dispose);
  SALN_EXPORT(exports, isDisposed);
  SALN_EXPORT(exports, setScoped);
  SALN_EXPORT(exports, reportExternal);
  SALN_EXPORT(exports, reportedBytes);
  SALN_EXPORT(exports, full);
  SALN_EXPORT(exports, zeros);
  SALN_EXPORT(exports, ones);
  SALN_EXPORT(exports, empty);
  SALN_EXPORT(exports, eye);
  SALN_EXPORT(exports, arange);
  SALN_EXPORT(exports, linspace);
  SALN_EXPORT(exports, randn);
  SALN_EXPORT(exports, rand);
  SALN_EXPORT(exports, randint);
  SALN_EXPORT(exports, randperm);
  SALN_EXPORT(exports, bernoulli);
  SALN_EXPORT(exports, multinomial);
  SALN_EXPORT(exports, uniform_);
  SALN_EXPORT(exports, normal_);
  SALN_EXPORT(exports, fill_);
  SALN_EXPORT(exports, zero_);
  SALN_EXPORT(exports, copy_);
  SALN_EXPORT(exports, to);
  SALN_EXPORT(exports, clone);
  SALN_EXPORT(exports, detach);
  SALN_EXPORT(exports, contiguous);
  SALN_EXPORT(exports, isContiguous);
}

}  // namespace saln
