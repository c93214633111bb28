// Entry point: registers every op group and the runtime queries.
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <unistd.h>

#include "addon_data.h"
#include "common.h"
#include "cpu_allocator.h"

namespace saln {

constexpr napi_type_tag AddonData::kHandleTag;

static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  data->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

SALN_OP(manualSeed, "manualSeed") {
  // torch::manual_seed also seeds every CUDA generator when GPUs are present.
  torch::manual_seed(static_cast<uint64_t>(call.I(0)));
  return call.Env().Undefined();
}

SALN_OP(setNumThreads, "setNumThreads") {
  at::set_num_threads(static_cast<int>(call.I(0)));
  return call.Env().Undefined();
}

SALN_OP(getNumThreads, "getNumThreads") { return Napi::Number::New(call.Env(), at::get_num_threads()); }

SALN_OP(isCudaAvailable, "isCudaAvailable") { return Napi::Boolean::New(call.Env(), torch::cuda::is_available()); }

SALN_OP(cudaDeviceCount, "cudaDeviceCount") {
  return Napi::Number::New(call.Env(), static_cast<double>(torch::cuda::device_count()));
}

SALN_OP(setCudnnTf32, "setCudnnTf32") {
  // cuDNN's TF32 default gives ~1e-3 relative error; conformance checks switch it off.
  at::globalContext().setAllowTF32CuDNN(call.B(0));
  at::globalContext().setAllowTF32CuBLAS(call.B(0));
  return call.Env().Undefined();
}

SALN_OP(versionInfo, "versionInfo") {
  auto o = Napi::Object::New(call.Env());
  o.Set("torch", Napi::String::New(call.Env(), TORCH_VERSION));
  o.Set("parallel", Napi::String::New(call.Env(), at::get_parallel_info()));
  return o;
}

// Activations of a CNN batch are tens of MB each. glibc serves such blocks with mmap and returns
// them to the OS on free, so every training step pays page faults for every activation (PyTorch
// on this machine: ~3.5x slower steps). Keeping them on the heap and not trimming it removes that.
// SALN_DEFAULT_MALLOC=1 keeps glibc's defaults.
static void TuneMalloc() {
  const char* opt = std::getenv("SALN_DEFAULT_MALLOC");
  if (opt && opt[0] == '1') return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

// libgomp can start with one thread inside Node (seen here: omp_get_max_threads() = 1 on 2
// cores). Use every core, as PyTorch does, unless the user pinned OMP_NUM_THREADS.
static void DefaultThreads() {
  if (std::getenv("OMP_NUM_THREADS")) return;
  unsigned n = std::thread::hardware_concurrency();
  if (n > 0) at::set_num_threads(static_cast<int>(n));
}

// Large CPU blocks come from the caching allocator (cpu_allocator.cc). SALN_CPU_CACHE_MB caps the
// freed memory it keeps (default: a quarter of RAM; one ResNet-18 training step at batch 128
// cycles through 1.3 GB of blocks); 0 leaves libtorch's allocator.
static void InstallAllocator() {
  size_t limit = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 4;
  const char* mb = std::getenv("SALN_CPU_CACHE_MB");
  if (mb && *mb) {  // set but empty counts as unset
    char* end = nullptr;
    unsigned long long v = std::strtoull(mb, &end, 10);
    if (end != mb && *end == '\0' && mb[0] != '-') limit = static_cast<size_t>(v) << 20;
    else std::fprintf(stderr, "saln: ignoring SALN_CPU_CACHE_MB=%s (expected a whole number of MiB; 0 turns the cache off)\n", mb);
    if (limit == 0) return;
  }
  InstallCpuAllocator(limit);
}

// cpuCacheStats() -> { installed, allocatedBytes, cachedBytes, peakBytes, hits, misses }
SALN_OP(cpuCacheStats, "cpuCacheStats") {
  auto s = GetCpuCacheStats();
  auto o = Napi::Object::New(call.Env());
  o.Set("installed", Napi::Boolean::New(call.Env(), CpuAllocatorInstalled()));
  o.Set("allocatedBytes", Napi::Number::New(call.Env(), static_cast<double>(s.allocatedBytes)));
  o.Set("cachedBytes", Napi::Number::New(call.Env(), static_cast<double>(s.cachedBytes)));
  o.Set("peakBytes", Napi::Number::New(call.Env(), static_cast<double>(s.peakBytes)));
  o.Set("hits", Napi::Number::New(call.Env(), static_cast<double>(s.hits)));
  o.Set("misses", Napi::Number::New(call.Env(), static_cast<double>(s.misses)));
  return o;
}

SALN_OP(emptyCpuCache, "emptyCpuCache") {
  EmptyCpuCache();
  return call.Env().Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneMalloc();
  InstallAllocator();
  DefaultThreads();
  env.SetInstanceData(new AddonData());
  SALN_EXPORT(exports, manualSeed);
  SALN_EXPORT(exports, setNumThreads);
  SALN_EXPORT(exports, getNumThreads);
  SALN_EXPORT(exports, isCudaAvailable);
  SALN_EXPORT(exports, cudaDeviceCount);
  SALN_EXPORT(exports, setCudnnTf32);
  SALN_EXPORT(exports, versionInfo);
  SALN_EXPORT(exports, cpuCacheStats);
  SALN_EXPORT(exports, emptyCpuCache);
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  InitCreate(env, exports);
  InitMath(env, exports);
  InitShape(env, exports);
  InitNN(env, exports);
  InitAutograd(env, exports);
  InitDist(env, exports);
  return exports;
}

}  // namespace saln

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return saln::Init(env, exports); }
NODE_API_MODULE(saln_native, InitAddon)
