// The caching CPU allocator (cpu_allocator.cc): large blocks kept for reuse across batches.
#pragma once

#include <cstddef>
#include <cstdint>

namespace saln {

struct CpuCacheStats {
  uint64_t allocatedBytes = 0;  // large blocks held by live tensors
  uint64_t cachedBytes = 0;     // large blocks freed and kept for reuse
  uint64_t peakBytes = 0;       // the most allocatedBytes has been
  uint64_t hits = 0;            // large requests served from the cache
  uint64_t misses = 0;          // large requests that needed a new mapping
};

// Makes it libtorch's CPU allocator; keeps at most cacheLimitBytes of freed blocks, the least
// recently freed leaving first.
void InstallCpuAllocator(size_t cacheLimitBytes);
bool CpuAllocatorInstalled();
CpuCacheStats GetCpuCacheStats();
// Returns every cached (free) block to the system.
void EmptyCpuCache();

}  // namespace saln
