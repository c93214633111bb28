// Elementwise math, reductions, comparisons and linear algebra.
// Unary, binary, reduction and in-place ops go through one export each, keyed by an op code from
// op_tables.h (exported to TypeScript as `opCodes`), so the binding stays a table, not 60 exports.
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "addon_data.h"
#include "common.h"
#include "op_tables.h"

namespace saln {

namespace {

// ReLU6 in bfloat16, with hardtanh's gradient (zero at 0 and at 6). libtorch 1.13 has no bfloat16
// kernel for hardtanh's backward, and clamp's backward (ge, le, logical_and, where) costs about 7x
// relu's on CPU: a third of MobileNetV1's bf16 training step. This backward is two vectorized
// threshold_backward passes over the saved output instead.
struct Relu6Bf16 : public torch::autograd::Function<Relu6Bf16> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, bool inplace) {
    at::Tensor y = inplace ? x.clamp_(0, 6) : at::clamp(x, 0, 6);
    if (inplace) ctx->mark_dirty({x});
    ctx->save_for_backward({y});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad) {
    const at::Tensor y = ctx->get_saved_variables()[0];
    // threshold_backward(g, s, t) keeps g where s > t: here where y > 0 and -y > -6.
    return {at::threshold_backward(at::threshold_backward(grad[0], y, 0), y.neg(), -6), at::Tensor()};
  }
};

bool Bf16NeedsGrad(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 && x.requires_grad() && c10::GradMode::is_enabled();
}

}  // namespace

at::Tensor Relu6(const at::Tensor& x) {
  if (Bf16NeedsGrad(x)) return Relu6Bf16::apply(x, false);
  return x.scalar_type() == at::kBFloat16 ? at::clamp(x, 0, 6) : at::hardtanh(x, 0.0, 6.0);
}

void Relu6_(at::Tensor& t) {
  if (Bf16NeedsGrad(t)) Relu6Bf16::apply(t, true);
  else if (t.scalar_type() == at::kBFloat16) at::clamp_(t, 0, 6);
  else at::hardtanh_(t, 0.0, 6.0);
}

at::Tensor NoScalar(const char* op) { throw std::invalid_argument(std::string(op) + " has no scalar form"); }

#define SALN_CASE(name, expr, ...) \
  case Op::k_##name:               \
    return expr;

static at::Tensor Unary(int64_t code, const at::Tensor& x) {
  using Op = UnaryOp;
  switch (static_cast<Op>(code)) {
    SALN_UNARY_OPS(SALN_CASE)
  }
  throw std::invalid_argument("unknown unary op code " + std::to_string(code));
}

static at::Tensor Binary(int64_t code, const at::Tensor& a, const at::Tensor& b) {
  using Op = BinaryOp;
  switch (static_cast<Op>(code)) {
    SALN_BINARY_OPS(SALN_CASE)
  }
  throw std::invalid_argument("unknown binary op code " + std::to_string(code));
}

#define SALN_SCALAR_CASE(name, tensorExpr, scalarExpr) \
  case Op::k_##name:                                   \
    return scalarExpr;

static at::Tensor BinaryScalar(int64_t code, const at::Tensor& a, const at::Scalar& s) {
  using Op = BinaryOp;
  switch (static_cast<Op>(code)) {
    SALN_BINARY_OPS(SALN_SCALAR_CASE)
  }
  throw std::invalid_argument("unknown binary op code " + std::to_string(code));
}

static at::Tensor Reduce(int64_t code, const at::Tensor& t, const std::vector<int64_t>& dims, bool keep) {
  using Op = ReduceOp;
  bool all = dims.empty();
  switch (static_cast<Op>(code)) {
    SALN_REDUCE_OPS(SALN_CASE)
  }
  throw std::invalid_argument("unknown reduction code " + std::to_string(code));
}

// unaryInplace(code, t)
SALN_OP(unaryInplace, "unaryInplace") {
  at::Tensor& t = call.T(1);
  switch (static_cast<UnaryInplaceOp>(call.I(0))) {
#define SALN_INPLACE_CASE(name, expr) \
  case UnaryInplaceOp::k_##name:      \
    expr;                             \
    return call.Env().Undefined();
    SALN_UNARY_INPLACE_OPS(SALN_INPLACE_CASE)
#undef SALN_INPLACE_CASE
  }
  throw std::invalid_argument("unknown in-place unary op code " + std::to_string(call.I(0)));
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
// inplace(code, a, b, alpha): b is a tensor handle or a number; see SALN_INPLACE_OPS.
SALN_OP(inplace, "inplace") {
  int64_t code = call.I(0);
  at::Tensor& a = call.T(1);
  bool isT = call.Info()[2].IsExternal();
  at::Scalar alpha = call.Has(3) ? call.Sc(3) : at::Scalar(1);
  switch (static_cast<InplaceOp>(code)) {
#define SALN_INPLACE_CASE(name, tensorExpr, scalarExpr) \
  case InplaceOp::k_##name:                             \
    if (isT) {                                          \
      const at::Tensor& b = call.T(2);                  \
      tensorExpr;                                       \
    } else {                                            \
      at::Scalar s = call.Sc(2);                        \
      scalarExpr;                                       \
    }                                                   \
    return call.Env().Undefined();
    SALN_INPLACE_OPS(SALN_INPLACE_CASE)
#undef SALN_INPLACE_CASE
  }
  throw std::invalid_argument("unknown in-place op code " + std::to_string(code));
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
SALN_OP(reduce, "reduce") { return Wrap(call.Env(), Reduce(call.I(0), call.T(1), call.Ints(2), call.B(3))); }

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
