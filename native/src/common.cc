#include "common.h"

#include <algorithm>
#include <sstream>

#include "addon_data.h"
#include "op_tables.h"

namespace saln {

static int64_t ReportedBytes(const at::Tensor& t) {
  // Only host memory pressures V8's heap heuristics; device memory is the caching allocator's.
  return t.defined() && t.device().is_cpu() ? static_cast<int64_t>(t.nbytes()) : 0;
}

void Release(Napi::BasicEnv env, Handle* h) {
  if (h->reported) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -h->reported);
    h->reported = 0;
  }
  h->t = at::Tensor();
}

void ReportExternal(Napi::Env env, Handle* h) {
  if (h->reported) return;
  h->reported = ReportedBytes(h->t);
  if (h->reported) Napi::MemoryManagement::AdjustExternalMemory(env, h->reported);
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  auto* h = new Handle{std::move(t), 0};
  // V8 answers growth in reported memory with full GCs. A tidy() scope frees its own tensors, so
  // reporting its short-lived activations only bought GC pauses (ResNet-50 at 224 px: ~8 full GCs
  // per batch, ~8% of the time). What leaves a scope is reported then (reportExternal).
  if (!env.GetInstanceData<AddonData>()->scoped) ReportExternal(env, h);
  // A basic finalizer (it takes BasicEnv) runs inside GC itself rather than on a later turn of the
  // event loop, so a synchronous training loop that never yields still gets its tensors freed.
  auto ext = Napi::External<Handle>::New(env, h, [](Napi::BasicEnv env, Handle* h) {
    Release(env, h);
    delete h;
  });
  ext.TypeTag(&AddonData::kHandleTag);
  return ext;
}

Napi::Value WrapMany(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) arr.Set(static_cast<uint32_t>(i), Wrap(env, ts[i]));
  return arr;
}

static const char* DtypeName(at::ScalarType st) {
  switch (st) {
#define SALN_DTYPE_NAME(name, type) \
  case type:                        \
    return #name;
    SALN_DTYPES(SALN_DTYPE_NAME)
#undef SALN_DTYPE_NAME
    default: return c10::toString(st);
  }
}

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream os;
  os << DtypeName(t.scalar_type()) << "[";
  for (int64_t i = 0; i < t.dim(); i++) os << (i ? "," : "") << t.size(i);
  os << "]";
  if (!t.device().is_cpu()) os << "@" << t.device().str();
  return os.str();
}

// Dtype codes: positions in SALN_DTYPES (op_tables.h), exported as opCodes.dtype.
at::ScalarType DtypeFromCode(int64_t code) {
  switch (static_cast<DtypeCode>(code)) {
#define SALN_DTYPE_FROM(name, type) \
  case DtypeCode::k_##name:         \
    return type;
    SALN_DTYPES(SALN_DTYPE_FROM)
#undef SALN_DTYPE_FROM
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int64_t CodeFromDtype(at::ScalarType st) {
  switch (st) {
#define SALN_DTYPE_TO(name, type) \
  case type:                      \
    return static_cast<int64_t>(DtypeCode::k_##name);
    SALN_DTYPES(SALN_DTYPE_TO)
#undef SALN_DTYPE_TO
    default: throw std::invalid_argument(std::string("unsupported dtype ") + c10::toString(st));
  }
}

at::Device DeviceFromString(const std::string& s) { return at::Device(s); }

Handle* Call::H(size_t i) {
  if (i >= info_.Length() || !info_[i].IsExternal()) Fail("argument " + std::to_string(i) + " is not a tensor handle");
  auto ext = info_[i].As<Napi::External<Handle>>();
  if (!ext.CheckTypeTag(&AddonData::kHandleTag)) Fail("argument " + std::to_string(i) + " is not a tensor handle");
  return ext.Data();
}

at::Tensor& Call::T(size_t i) {
  Handle* h = H(i);
  if (!h->t.defined()) Fail("tensor argument " + std::to_string(i) + " was disposed (use after dispose())");
  seen_.emplace_back(i, h->t);
  return h->t;
}

Optional<at::Tensor> Call::OptT(size_t i) {
  if (!Has(i)) return kNone;
  return T(i);
}

std::vector<at::Tensor> Call::TList(size_t i) {
  auto arr = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t j = 0; j < arr.Length(); j++) {
    Napi::Value v = arr.Get(j);
    if (!v.IsExternal()) Fail("list element " + std::to_string(j) + " is not a tensor handle");
    auto ext = v.As<Napi::External<Handle>>();
    if (!ext.CheckTypeTag(&AddonData::kHandleTag)) Fail("list element " + std::to_string(j) + " is not a tensor handle");
    Handle* h = ext.Data();
    if (!h->t.defined()) Fail("list element " + std::to_string(j) + " was disposed (use after dispose())");
    seen_.emplace_back(i, h->t);
    out.push_back(h->t);
  }
  return out;
}

std::vector<int64_t> Call::Ints(size_t i) const {
  auto arr = info_[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t j = 0; j < arr.Length(); j++) out[j] = arr.Get(j).As<Napi::Number>().Int64Value();
  return out;
}

at::Scalar Call::Sc(size_t i) const {
  if (info_[i].IsBoolean()) return at::Scalar(info_[i].As<Napi::Boolean>().Value());
  double v = D(i);
  // Integral JS numbers become integer scalars so that int tensors stay int.
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -9.0e15 && v < 9.0e15) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

at::TensorOptions Call::Opts(size_t dtypeIdx, size_t deviceIdx) const {
  auto o = at::TensorOptions().dtype(DtypeFromCode(I(dtypeIdx)));
  if (Has(deviceIdx)) o = o.device(DeviceFromString(S(deviceIdx)));
  return o;
}

void Call::Fail(const std::string& what) const {
  std::ostringstream os;
  os << op_ << ": " << what;
  if (!seen_.empty()) {
    auto seen = seen_;
    std::stable_sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    os << " (inputs: ";
    for (size_t i = 0; i < seen.size(); i++) os << (i ? ", " : "") << Describe(seen[i].second);
    os << ")";
  }
  Napi::Env env = info_.Env();
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Object err;
  if (data && !data->errorClass.IsEmpty()) {
    err = data->errorClass.New({Napi::String::New(env, os.str())});
  } else {
    err = Napi::Error::New(env, os.str()).Value();
  }
  err.Set("op", Napi::String::New(env, op_));
  throw Napi::Error(env, err);
}

// One name -> code object per list. Op codes are positions (the enumerators); enumerated
// arguments carry libtorch's own values.
void ExportOpTables(Napi::Env env, Napi::Object exports) {
  auto codes = Napi::Object::New(env);
  auto table = [&](const char* name) {
    auto t = Napi::Object::New(env);
    codes.Set(name, t);
    return t;
  };
  Napi::Object t;
#define SALN_POSITION(name, ...) t.Set(#name, Napi::Number::New(env, static_cast<double>(Enum::k_##name)));
#define SALN_VALUE(name, value) t.Set(#name, Napi::Number::New(env, static_cast<double>(static_cast<int64_t>(value))));
  // One table per X-macro list: its names, each with its position (the code the ops switch on).
#define SALN_POSITION_TABLE(EnumType, name, LIST) \
  {                                              \
    using Enum = EnumType;                       \
    t = table(name);                             \
    LIST(SALN_POSITION)                          \
  }
  SALN_POSITION_TABLE(UnaryOp, "unary", SALN_UNARY_OPS)
  SALN_POSITION_TABLE(UnaryInplaceOp, "unaryInplace", SALN_UNARY_INPLACE_OPS)
  SALN_POSITION_TABLE(BinaryOp, "binary", SALN_BINARY_OPS)
  SALN_POSITION_TABLE(ReduceOp, "reduce", SALN_REDUCE_OPS)
  SALN_POSITION_TABLE(InplaceOp, "inplace", SALN_INPLACE_OPS)
  SALN_POSITION_TABLE(DtypeCode, "dtype", SALN_DTYPES)
#undef SALN_POSITION_TABLE
  t = table("memoryFormat");
  SALN_MEMORY_FORMATS(SALN_VALUE)
  t = table("reduction");
  SALN_REDUCTIONS(SALN_VALUE)
  t = table("gridMode");
  SALN_GRID_MODES(SALN_VALUE)
  t = table("gridPadding");
  SALN_GRID_PADDINGS(SALN_VALUE)
#undef SALN_POSITION
#undef SALN_VALUE
  exports.Set("opCodes", codes);
}

}  // namespace saln
