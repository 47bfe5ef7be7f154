// CUDA graph reuse for repeated graphs (decode steps).
//
// Policy: a graph whose signature equals a recent call's is captured
// into a CUDA graph (stream capture: it also records cuBLAS work) and
// replayed while the signature stays the same. One-off graphs (a prompt)
// run eagerly and are never captured.
//
// The signature is every node's op, parameters and tensors (dtype, shape,
// strides, buffer, offset) EXCEPT the values that move every decode step:
// the COPY destination offset (the KV slot) and ATTENTION i_params[0..1].
// Kernels read those from device memory (NodeDyn, written before each launch,
// eager or replayed), so a replayed graph sees the current step's values
// without re-instantiation or cudaGraphExecKernelNodeSetParams.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "tessera/compute.h"

namespace tessera::cuda {

using Signature = std::vector<uint64_t>;

Signature graph_signature(const tessera_graph& graph);

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache() { reset(); }
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // The instantiated graph for `sig`, or nullptr.
  cudaGraphExec_t find(const Signature& sig) const;
  // Whether `sig` was executed recently (so it is worth capturing). A
  // partially offloaded decode step runs several graphs on one backend per
  // step, hence "recently", not "last time".
  bool repeated(const Signature& sig) const;
  void remember(const Signature& sig);
  // Keeps `exec` for `sig` (the least recently stored one goes past kKeep).
  void store(const Signature& sig, cudaGraphExec_t exec);
  // A graph whose capture failed is not tried again.
  void mark_uncapturable(const Signature& sig);
  // Forgets every captured graph (e.g. memory they point at went away).
  void reset();

  uint64_t captures = 0, replays = 0;  // for logs

 private:
  static constexpr std::size_t kKeep = 8, kRecent = 16;
  struct Entry {
    Signature sig;
    cudaGraphExec_t exec;
  };
  std::vector<Entry> captured_;
  std::vector<Signature> recent_, uncapturable_;
};

}  // namespace tessera::cuda
