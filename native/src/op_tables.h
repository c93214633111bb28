// The op-code tables: each op and each enumerated argument is declared once, here, as an X-macro
// list. The addon dispatches on the codes (ops_math.cc, common.cc) and exports the name -> code
// tables at load (`opCodes`, see ExportOpTables), which src/tensor reads: TypeScript keeps no copy.
// A code is an entry's position in its list (enumerator k_<name>), so adding an entry anywhere is
// safe.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

// X(name, expression of `x`)
#define SALN_UNARY_OPS(X)                          \
  X(neg, at::neg(x))                               \
  X(abs, at::abs(x))                               \
  X(exp, at::exp(x))                               \
  X(log, at::log(x))                               \
  X(sqrt, at::sqrt(x))                             \
  X(rsqrt, at::rsqrt(x))                           \
  X(relu, at::relu(x))                             \
  X(sigmoid, at::sigmoid(x))                       \
  X(tanh, at::tanh(x))                             \
  X(sign, at::sign(x))                             \
  X(floor, at::floor(x))                           \
  X(ceil, at::ceil(x))                             \
  X(round, at::round(x))                           \
  X(reciprocal, at::reciprocal(x))                 \
  X(square, at::square(x))                         \
  X(isnan, at::isnan(x))                           \
  X(isfinite, at::isfinite(x))                     \
  X(logicalNot, at::logical_not(x))                \
  X(sin, at::sin(x))                               \
  X(cos, at::cos(x))                               \
  X(log1p, at::log1p(x))                           \
  X(gelu, at::gelu(x))                             \
  X(silu, at::silu(x))                             \
  X(relu6, saln::Relu6(x))

// X(name, in-place expression on `t`): as torchvision's ReLU(inplace=True), saves an
// activation-sized allocation per call (the op's own backward needs only its output).
#define SALN_UNARY_INPLACE_OPS(X) \
  X(relu_, t.relu_())             \
  X(relu6_, saln::Relu6_(t))

// X(name, tensor-tensor expression of `a`, `b`, expression with a scalar `s` or NoScalar)
#define SALN_BINARY_OPS(X)                                                            \
  X(add, at::add(a, b), at::add(a, s))                                                \
  X(sub, at::sub(a, b), at::sub(a, s))                                                \
  X(mul, at::mul(a, b), at::mul(a, s))                                                \
  X(div, at::div(a, b), at::div(a, s))                                                \
  X(pow, at::pow(a, b), at::pow(a, s))                                                \
  X(maximum, at::maximum(a, b), at::clamp_min(a, s))                                  \
  X(minimum, at::minimum(a, b), at::clamp_max(a, s))                                  \
  X(eq, at::eq(a, b), at::eq(a, s))                                                   \
  X(ne, at::ne(a, b), at::ne(a, s))                                                   \
  X(lt, at::lt(a, b), at::lt(a, s))                                                   \
  X(le, at::le(a, b), at::le(a, s))                                                   \
  X(gt, at::gt(a, b), at::gt(a, s))                                                   \
  X(ge, at::ge(a, b), at::ge(a, s))                                                   \
  X(logicalAnd, at::logical_and(a, b), saln::NoScalar("logicalAnd"))                  \
  X(logicalOr, at::logical_or(a, b), saln::NoScalar("logicalOr"))                     \
  X(remainder, at::remainder(a, b), at::remainder(a, s))                              \
  X(atan2, at::atan2(a, b), saln::NoScalar("atan2"))                                  \
  X(floorDivide, at::floor_divide(a, b), at::floor_divide(a, s))

// X(name, expression of `t`, `dims`, `keep`; `all` is true when dims is empty = every element)
#define SALN_REDUCE_OPS(X)                                                                      \
  X(sum, all ? at::sum(t) : at::sum(t, dims, keep))                                             \
  X(mean, all ? at::mean(t) : at::mean(t, dims, keep))                                          \
  X(amax, all ? at::amax(t, at::IntArrayRef{}, false) : at::amax(t, dims, keep))                \
  X(amin, all ? at::amin(t, at::IntArrayRef{}, false) : at::amin(t, dims, keep))                \
  X(prod, all ? at::prod(t) : at::prod(t, dims[0], keep))                                       \
  X(logsumexp, at::logsumexp(t, dims, keep))                                                    \
  X(any, all ? at::any(t) : at::any(t, dims[0], keep))                                          \
  X(all, all ? at::all(t) : at::all(t, dims[0], keep))

// In-place updates for optimizers and running statistics: X(name, with a tensor `b`, with a scalar `s`).
#define SALN_INPLACE_OPS(X)                                   \
  X(add, a.add_(b, alpha), a.add_(s, alpha))                  \
  X(sub, a.sub_(b, alpha), a.sub_(s, alpha))                  \
  X(mul, a.mul_(b), a.mul_(s))                                \
  X(div, a.div_(b), a.div_(s))                                \
  X(set, a.copy_(b), a.fill_(s))

// X(name, libtorch scalar type)
#define SALN_DTYPES(X)      \
  X(float32, at::kFloat)    \
  X(float64, at::kDouble)   \
  X(int64, at::kLong)       \
  X(int32, at::kInt)        \
  X(uint8, at::kByte)       \
  X(bool, at::kBool)        \
  X(float16, at::kHalf)     \
  X(bfloat16, at::kBFloat16) \
  X(int8, at::kChar)        \
  X(int16, at::kShort)

// Enumerated arguments whose codes are libtorch's own: X(name, value).
#define SALN_MEMORY_FORMATS(X)                      \
  X(contiguous, at::MemoryFormat::Contiguous)       \
  X(channelsLast, at::MemoryFormat::ChannelsLast)   \
  X(preserve, at::MemoryFormat::Preserve)
#define SALN_REDUCTIONS(X)       \
  X(none, at::Reduction::None)   \
  X(mean, at::Reduction::Mean)   \
  X(sum, at::Reduction::Sum)
// at::grid_sampler's interpolation and padding arguments (GridSamplerInterpolation/Padding).
#define SALN_GRID_MODES(X) X(bilinear, 0) X(nearest, 1) X(bicubic, 2)
#define SALN_GRID_PADDINGS(X) X(zeros, 0) X(border, 1) X(reflection, 2)

namespace saln {

#define SALN_ENUM_ENTRY(name, ...) k_##name,
enum class UnaryOp : int64_t { SALN_UNARY_OPS(SALN_ENUM_ENTRY) };
enum class UnaryInplaceOp : int64_t { SALN_UNARY_INPLACE_OPS(SALN_ENUM_ENTRY) };
enum class BinaryOp : int64_t { SALN_BINARY_OPS(SALN_ENUM_ENTRY) };
enum class ReduceOp : int64_t { SALN_REDUCE_OPS(SALN_ENUM_ENTRY) };
enum class InplaceOp : int64_t { SALN_INPLACE_OPS(SALN_ENUM_ENTRY) };
enum class DtypeCode : int64_t { SALN_DTYPES(SALN_ENUM_ENTRY) };
#undef SALN_ENUM_ENTRY

// ReLU6 = hardtanh(x, 0, 6), except for bfloat16: libtorch 1.13 has no bfloat16 kernel for
// hardtanh's backward ("hardshrink_backward_cpu" not implemented), so it is clamp(x, 0, 6) there
// (same values; the gradient also passes at exactly 0 and 6, where hardtanh's is 0).
at::Tensor Relu6(const at::Tensor& x);
void Relu6_(at::Tensor& t);
// Thrown by a binary op that has no scalar form.
[[noreturn]] at::Tensor NoScalar(const char* op);

// exports.opCodes = { unary, unaryInplace, binary, reduce, inplace, dtype, memoryFormat, reduction, gridMode, gridPadding }
void ExportOpTables(Napi::Env env, Napi::Object exports);

}  // namespace saln
