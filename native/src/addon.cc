// Entry point: sets up the runtime (runtime.cc), then registers every op group and the op-code
// tables (op_tables.h).
#include "addon_data.h"
#include "common.h"
#include "op_tables.h"

namespace saln {

constexpr napi_type_tag AddonData::kHandleTag;

static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  data->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  SetUpRuntime();
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  ExportOpTables(env, exports);
  InitRuntime(env, exports);
  InitCreate(env, exports);
  InitMath(env, exports);
  InitShape(env, exports);
  InitNN(env, exports);
  InitAutograd(env, exports);
  InitAmp(env, exports);
  InitDist(env, exports);
  return exports;
}

}  // namespace saln

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return saln::Init(env, exports); }
NODE_API_MODULE(saln_native, InitAddon)
