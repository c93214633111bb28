// Per-environment state: the JS error class the addon throws (set once at load, as
// better-sqlite3 does with SqliteError) and the type tag that marks our tensor handles.
#pragma once

#include <napi.h>

namespace saln {

struct AddonData {
  Napi::FunctionReference errorClass;
  // True while a tidy() scope is open: the tensors created then are freed by the scope, not by
  // GC, so they are not reported to V8 (see Wrap in common.cc).
  bool scoped = false;
  static constexpr napi_type_tag kHandleTag = {0x5a1f0c3e9b7d4a21ULL, 0x8e6b2c4f1d3a5e77ULL};
};

// Once per process, before any tensor: malloc tuning, the CPU allocator, the thread policy (runtime.cc).
void SetUpRuntime();
void InitRuntime(Napi::Env env, Napi::Object exports);
void InitCreate(Napi::Env env, Napi::Object exports);
void InitMath(Napi::Env env, Napi::Object exports);
void InitShape(Napi::Env env, Napi::Object exports);
void InitNN(Napi::Env env, Napi::Object exports);
void InitAutograd(Napi::Env env, Napi::Object exports);
void InitAmp(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);  // dist.cc: c10d collectives

}  // namespace saln
