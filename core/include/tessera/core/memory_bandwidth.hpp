// Memory bandwidth of a compute device, measured by a short test: what bounds
// decode speed at batch 1 (every weight is read once per token). Results are
// cached per device in $XDG_CACHE_HOME/tessera (or ~/.cache/tessera), since
// the test takes a second or two and the hardware does not change.
#pragma once

#include <filesystem>
#include <string>

namespace tessera {

class ComputeBackend;
class PluginRegistry;

struct BandwidthMeasurement {
  double gbs = 0;              // 1e9 bytes per second; 0 when it could not be measured
  std::string device;          // the cache key: backend and device name
  std::string method;          // how it was measured, for reports
  bool cached = false;         // read from the cache rather than measured now
};

// The host's read bandwidth: `threads` threads each stream through their part
// of a buffer much larger than the caches (`bytes`), best of a few passes.
double measure_host_read_bandwidth(int threads, std::size_t bytes);

// A device's copy bandwidth (bytes read + written per second) through the
// backend's copy op on two device buffers of `bytes`; 0 when the backend has
// no f32 copy.
double measure_device_copy_bandwidth(ComputeBackend& backend, std::size_t bytes);

// The bandwidth of `backend`'s device: from the cache unless `refresh`, else
// measured (host read test for a CPU device, copy test otherwise) and stored.
// A device test runs on a backend of its own from `registry`, so its buffers
// never count in `backend`'s memory.
BandwidthMeasurement device_bandwidth(const ComputeBackend& backend, PluginRegistry& registry, bool refresh = false);

// Where measurements are cached.
std::filesystem::path bandwidth_cache_file();

}  // namespace tessera
