// A caching allocator for large CPU tensors, installed as libtorch's CPU allocator at load.
//
// Why: a forward pass frees and reallocates the same large activations every batch. Under glibc
// they share the heap with the small, GC-lifetime allocations a JS binding makes (each handle's
// box and N-API finalizer record live until V8 collects them). A small record landing inside a
// freed activation splits it, the next batch's activation no longer fits, and the heap grows:
// ResNet-50 at 224 px grew by ~150 MB of fresh, page-faulting memory per batch for six batches
// (RSS 2.0 GB against PyTorch's 0.9 GB) and ran 10-40% slower while it did. Blocks of 1 MiB and
// up now come from their own mappings and are kept for reuse, as PyTorch's CUDA caching
// allocator does on the GPU; smaller ones still go to malloc.
//
// Footprint: the cache keeps at most a set number of bytes of freed blocks (see runtime.cc). Past
// that, the least recently freed go first, so the blocks of an earlier phase (feature extraction
// at 224 px, then training at 32 px) give way to the current one instead of crowding it out.
// Bounding the cache by the peak of live bytes instead was tried and thrashes: blocks are reused
// whole, never split, so one ResNet-50 batch needs 447 MB of blocks for a live peak of 291 MB.
#include "cpu_allocator.h"

#include <sys/mman.h>

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>

namespace saln {

namespace {

// Every block starts with this header, so one deleter (and raw_deleter) serves both kinds.
constexpr size_t kHeader = 64;  // keeps data 64-byte aligned, as c10's own allocator does
constexpr size_t kMinCached = size_t{1} << 20;
constexpr size_t kPage = 4096;

struct Header {
  size_t mapped;  // size of the mapping, header included; 0 for a malloc'ed block
};

class CachingCpuAllocator;
// Never deleted: tensors may be freed during process exit, after static destructors ran.
CachingCpuAllocator* g_instance = nullptr;

class CachingCpuAllocator final : public at::Allocator {
 public:
  explicit CachingCpuAllocator(size_t cacheLimit) : cacheLimit_(cacheLimit) {}

  // libtorch 1.x declares allocate() const, 2.x (from 2.3) non-const: defining both overrides
  // whichever the headers declare.
  at::DataPtr allocate(size_t n) const { return Allocate(n); }
  at::DataPtr allocate(size_t n) { return Allocate(n); }
  // Pure virtual from libtorch 2.3; a plain member before.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  at::DeleterFnPtr raw_deleter() const override { return &Free; }

  CpuCacheStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void EmptyCache() {
    std::lock_guard<std::mutex> lock(mu_);
    while (!lru_.empty()) EvictOldest();
  }

 private:
  struct Cached {
    size_t size;
    char* base;
  };

  at::DataPtr Allocate(size_t n) const {
    if (n == 0) return {nullptr, nullptr, &Free, at::Device(at::kCPU)};
    char* base;
    if (n < kMinCached) {
      void* p = nullptr;
      TORCH_CHECK(posix_memalign(&p, kHeader, n + kHeader) == 0, "CPU out of memory: tried to allocate ", n, " bytes");
      base = static_cast<char*>(p);
      reinterpret_cast<Header*>(base)->mapped = 0;
    } else {
      base = self().Take((n + kHeader + kPage - 1) / kPage * kPage);
    }
    char* data = base + kHeader;
    return {data, data, &Free, at::Device(at::kCPU)};
  }

  // The allocator is a process-lifetime singleton; Allocate is const only for libtorch 1.x.
  CachingCpuAllocator& self() const { return *const_cast<CachingCpuAllocator*>(this); }

  // Best fit among cached blocks, accepting up to 1/8 waste so that near-equal sizes (a smaller
  // last batch) share blocks without a small request pinning a huge one.
  char* Take(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = bySize_.lower_bound(size);
      if (it != bySize_.end() && it->first <= size + size / 8) {
        Cached c = *it->second;
        lru_.erase(it->second);
        bySize_.erase(it);
        stats_.cachedBytes -= c.size;
        Account(c.size);
        stats_.hits++;
        return c.base;
      }
      stats_.misses++;
    }
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      EmptyCache();  // cached blocks of other sizes may be all that stands in the way
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    TORCH_CHECK(p != MAP_FAILED, "CPU out of memory: tried to allocate ", size, " bytes");
    reinterpret_cast<Header*>(p)->mapped = size;
    std::lock_guard<std::mutex> lock(mu_);
    Account(size);
    return static_cast<char*>(p);
  }

  void Account(size_t size) {
    stats_.allocatedBytes += size;
    stats_.peakBytes = std::max(stats_.peakBytes, stats_.allocatedBytes);
  }

  void Give(char* base, size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.allocatedBytes -= size;
    bySize_.emplace(size, lru_.insert(lru_.end(), Cached{size, base}));
    stats_.cachedBytes += size;
    while (stats_.cachedBytes > cacheLimit_) EvictOldest();
  }

  // Caller holds mu_.
  void EvictOldest() {
    auto oldest = lru_.begin();
    auto [from, to] = bySize_.equal_range(oldest->size);
    bySize_.erase(std::find_if(from, to, [&](const auto& e) { return e.second == oldest; }));
    munmap(oldest->base, oldest->size);
    stats_.cachedBytes -= oldest->size;
    lru_.erase(oldest);
  }

  static void Free(void* data) {
    if (!data) return;
    char* base = static_cast<char*>(data) - kHeader;
    size_t mapped = reinterpret_cast<Header*>(base)->mapped;
    if (mapped == 0) std::free(base);
    else g_instance->Give(base, mapped);
  }

  size_t cacheLimit_;
  std::mutex mu_;
  std::list<Cached> lru_;  // least recently freed first
  std::multimap<size_t, std::list<Cached>::iterator> bySize_;
  CpuCacheStats stats_;
};

}  // namespace

void InstallCpuAllocator(size_t cacheLimitBytes) {
  if (g_instance) return;
  g_instance = new CachingCpuAllocator(cacheLimitBytes);
  // Priority above the default registration's 0, so it is not replaced back.
  c10::SetCPUAllocator(g_instance, /*priority=*/1);
}

bool CpuAllocatorInstalled() { return g_instance != nullptr; }

CpuCacheStats GetCpuCacheStats() { return g_instance ? g_instance->Stats() : CpuCacheStats{}; }

void EmptyCpuCache() {
  if (g_instance) g_instance->EmptyCache();
}

}  // namespace saln
