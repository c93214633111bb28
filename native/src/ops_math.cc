// Elementwise math, reductions, comparisons and linear algebra.
// Unary and binary ops go through one export each, keyed by a small op code, so that the
// binding stays a table (src/binding/binding.ts: UNARY, BINARY) rather than 60 exports.
#include "addon_data.h"
#include "common.h"

namespace saln {

static at::Tensor Unary(int64_t code, const at::Tensor& x) {
  switch (code) {
    case 0: return at::neg(x);
    case 1: return at::abs(x);
    case 2: return at::exp(x);
    case 3: return at::log(x);
    case 4: return at::sqrt(x);
    case 5: return at::rsqrt(x);
    case 6: return at::relu(x);
    case 7: return at::sigmoid(x);
    case 8: return at::tanh(x);
    case 9: return at::sign(x);
    case 10: return at::floor(x);
    case 11: return at::ceil(x);
    case 12: return at::round(x);
    case 13: return at::reciprocal(x);
    case 14: return at::square(x);
    case 15: return at::isnan(x);
    case 16: return at::isfinite(x);
    case 17: return at::logical_not(x);
    case 18: return at::sin(x);
    case 19: return at::cos(x);
    case 20: return at::log1p(x);
    case 21: return at::gelu(x);
    case 22: return at::silu(x);
    case 23: return at::hardtanh(x, 0.0, 6.0);  // relu6
    default: throw std::invalid_argument("unknown unary op code " + std::to_string(code));
  }
}

static at::Tensor Binary(int64_t code, const at::Tensor& a, const at::Tensor& b) {
  switch (code) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return at::maximum(a, b);
    case 6: return at::minimum(a, b);
    case 7: return at::eq(a, b);
    case 8: return at::ne(a, b);
    case 9: return at::lt(a, b);
    case 10: return at::le(a, b);
    case 11: return at::gt(a, b);
    case 12: return at::ge(a, b);
    case 13: return at::logical_and(a, b);
    case 14: return at::logical_or(a, b);
    case 15: return at::remainder(a, b);
    case 16: return at::atan2(a, b);
    case 17: return at::floor_divide(a, b);
    default: throw std::invalid_argument("unknown binary op code " + std::to_string(code));
  }
}

static at::Tensor BinaryScalar(int64_t code, const at::Tensor& a, const at::Scalar& b) {
  switch (code) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return at::clamp_min(a, b);
    case 6: return at::clamp_max(a, b);
    case 7: return at::eq(a, b);
    case 8: return at::ne(a, b);
    case 9: return at::lt(a, b);
    case 10: return at::le(a, b);
    case 11: return at::gt(a, b);
    case 12: return at::ge(a, b);
    case 15: return at::remainder(a, b);
    case 17: return at::floor_divide(a, b);
    default: throw std::invalid_argument("binary op code " + std::to_string(code) + " has no scalar form");
  }
}

// unaryInplace(code, t): 0 relu_, 1 relu6_. In place, as torchvision's ReLU(inplace=True): saves
// an activation-sized allocation per call (the op's own backward needs only its output).
SALN_OP(unaryInplace, "unaryInplace") {
  at::Tensor& t = call.T(1);
  switch (call.I(0)) {
    case 0: t.relu_(); break;
    case 1: at::hardtanh_(t, 0.0, 6.0); break;
    default: throw std::invalid_argument("unknown in-place unary op code " + std::to_string(call.I(0)));
  }
  return call.Env().Undefined();
}

SALN_OP(unary, "unary") { return Wrap(call.Env(), Unary(call.I(0), call.T(1))); }

// binary(code, a, b): b is a tensor handle or a number.
SALN_OP(binary, "binary") {
  int64_t code = call.I(0);
  const at::Tensor& a = call.T(1);
  if (call.Info()[2].IsExternal()) return Wrap(call.Env(), Binary(code, a, call.T(2)));
  return Wrap(call.Env(), BinaryScalar(code, a, call.Sc(2)));
}

// In-place updates for optimizers and running statistics (run them under noGrad).
// inplace(code, a, b, alpha): 0 a += alpha*b, 1 a -= alpha*b, 2 a *= b, 3 a /= b, 4 a = b (copy)
SALN_OP(inplace, "inplace") {
  int64_t code = call.I(0);
  at::Tensor& a = call.T(1);
  bool isT = call.Info()[2].IsExternal();
  at::Scalar alpha = call.Has(3) ? call.Sc(3) : at::Scalar(1);
  switch (code) {
    case 0: isT ? a.add_(call.T(2), alpha) : a.add_(call.Sc(2), alpha); break;
    case 1: isT ? a.sub_(call.T(2), alpha) : a.sub_(call.Sc(2), alpha); break;
    case 2: isT ? a.mul_(call.T(2)) : a.mul_(call.Sc(2)); break;
    case 3: isT ? a.div_(call.T(2)) : a.div_(call.Sc(2)); break;
    case 4: isT ? a.copy_(call.T(2)) : a.fill_(call.Sc(2)); break;
    default: throw std::invalid_argument("unknown in-place op code " + std::to_string(code));
  }
  return call.Env().Undefined();
}

// addcmul_(a, b, c, value): a += value * b * c
SALN_OP(addcmul_, "addcmul_") { call.T(0).addcmul_(call.T(1), call.T(2), call.Sc(3)); return call.Env().Undefined(); }
SALN_OP(addcdiv_, "addcdiv_") { call.T(0).addcdiv_(call.T(1), call.T(2), call.Sc(3)); return call.Env().Undefined(); }

// clamp(t, min|null, max|null)
SALN_OP(clamp, "clamp") {
  Optional<at::Scalar> lo, hi;
  if (call.Has(1)) lo = call.Sc(1);
  if (call.Has(2)) hi = call.Sc(2);
  return Wrap(call.Env(), at::clamp(call.T(0), lo, hi));
}
SALN_OP(where, "where") { return Wrap(call.Env(), at::where(call.T(0), call.T(1), call.T(2))); }
SALN_OP(maskedFill, "maskedFill") { return Wrap(call.Env(), at::masked_fill(call.T(0), call.T(1), call.Sc(2))); }

// Reductions: reduce(code, t, dims, keepdim). Empty dims reduces over everything.
SALN_OP(reduce, "reduce") {
  int64_t code = call.I(0);
  at::Tensor& t = call.T(1);
  auto dims = call.Ints(2);
  bool keep = call.B(3);
  bool all = dims.empty();
  switch (code) {
    case 0: return Wrap(call.Env(), all ? at::sum(t) : at::sum(t, dims, keep));
    case 1: return Wrap(call.Env(), all ? at::mean(t) : at::mean(t, dims, keep));
    case 2: return Wrap(call.Env(), all ? at::amax(t, at::IntArrayRef{}, false) : at::amax(t, dims, keep));
    case 3: return Wrap(call.Env(), all ? at::amin(t, at::IntArrayRef{}, false) : at::amin(t, dims, keep));
    case 4: return Wrap(call.Env(), all ? at::prod(t) : at::prod(t, dims[0], keep));
    case 5: return Wrap(call.Env(), at::logsumexp(t, dims, keep));
    case 6: return Wrap(call.Env(), all ? at::any(t) : at::any(t, dims[0], keep));
    case 7: return Wrap(call.Env(), all ? at::all(t) : at::all(t, dims[0], keep));
    default: throw std::invalid_argument("unknown reduction code " + std::to_string(code));
  }
}

// variance(t, dims, correction, keepdim, std)
SALN_OP(variance, "variance") {
  at::Tensor& t = call.T(0);
  auto dims = call.Ints(1);
  bool unbiased = call.I(2) != 0;
  bool keep = call.B(3);
  at::OptionalIntArrayRef d = dims.empty() ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(dims);
  return Wrap(call.Env(), call.B(4) ? at::std(t, d, unbiased, keep) : at::var(t, d, unbiased, keep));
}

// argmax/argmin(t, dim|null, keepdim)
SALN_OP(argmax, "argmax") { return Wrap(call.Env(), at::argmax(call.T(0), call.OptI(1), call.B(2))); }
SALN_OP(argmin, "argmin") { return Wrap(call.Env(), at::argmin(call.T(0), call.OptI(1), call.B(2))); }
// vectorNorm(t, ord, dims, keepdim)
SALN_OP(vectorNorm, "vectorNorm") {
  auto dims = call.Ints(2);
  at::OptionalIntArrayRef d = dims.empty() ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(dims);
  return Wrap(call.Env(), at::linalg_vector_norm(call.T(0), call.D(1), d, call.B(3), kNone));
}
SALN_OP(cumsum, "cumsum") { return Wrap(call.Env(), at::cumsum(call.T(0), call.I(1))); }

SALN_OP(matmul, "matmul") { return Wrap(call.Env(), at::matmul(call.T(0), call.T(1))); }
// linear(x, weight, bias?) = x W^T + b
SALN_OP(linear, "linear") { return Wrap(call.Env(), at::linear(call.T(0), call.T(1), call.OptT(2))); }

// eigh(t) -> [eigenvalues ascending, eigenvectors as columns] (LAPACK syevd on CPU).
SALN_OP(eigh, "eigh") {
  auto r = at::linalg_eigh(call.T(0), "L");
  return WrapMany(call.Env(), {std::get<0>(r), std::get<1>(r)});
}
// topk(t, k, dim, largest, sorted) -> [values, indices]
SALN_OP(topk, "topk") {
  auto r = at::topk(call.T(0), call.I(1), call.I(2), call.B(3), call.B(4));
  return WrapMany(call.Env(), {std::get<0>(r), std::get<1>(r)});
}
// sort(t, dim, descending, stable) -> [values, indices]
SALN_OP(sort, "sort") {
  auto r = at::sort(call.T(0), Optional<bool>(call.B(3)), call.I(1), call.B(2));
  return WrapMany(call.Env(), {std::get<0>(r), std::get<1>(r)});
}

void InitMath(Napi::Env env, Napi::Object exports) {
  SALN_EXPORT(exports, unary);
  SALN_EXPORT(exports, unaryInplace);
  SALN_EXPORT(exports, binary);
  SALN_EXPORT(exports, inplace);
  SALN_EXPORT(exports, addcmul_);
  SALN_EXPORT(exports, addcdiv_);
  SALN_EXPORT(exports, clamp);
  SALN_EXPORT(exports, where);
  SALN_EXPORT(exports, maskedFill);
  SALN_EXPORT(exports, reduce);
  SALN_EXPORT(exports, variance);
  SALN_EXPORT(exports, argmax);
  SALN_EXPORT(exports, argmin);
  SALN_EXPORT(exports, vectorNorm);
  SALN_EXPORT(exports, cumsum);
  SALN_EXPORT(exports, matmul);
  SALN_EXPORT(exports, linear);
  SALN_EXPORT(exports, eigh);
  SALN_EXPORT(exports, topk);
  SALN_EXPORT(exports, sort);
}

}  // namespace saln
