// Runs a GraphPlan over several backends: consecutive nodes on one backend
// go out as one tessera_graph; an activation produced on one backend and
// read on another is copied across first (through host memory). This is
// what makes layer splits and per-op fallback work without the plugins
// knowing about each other.
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/core/compute_backend.hpp"
#include "tessera/core/graph_plan.hpp"
#include "tessera/core/kernel_binding.hpp"

namespace tessera {

class GraphExecutor {
 public:
  explicit GraphExecutor(std::vector<ComputeBackend*> backends) : backends_(std::move(backends)) {}

  // Nodes matching a binding (backend, op, dtype of src[0]) go to its kernel
  // plugin, with the backend's buffers and execution context.
  void bind_kernels(std::vector<KernelBinding> bindings) { bindings_ = std::move(bindings); }

  // Allocates (or grows) every backend's scratch to hold the plan's slots.
  void prepare(const GraphPlan& plan);
  // Host data into an activation (valid on every backend afterwards).
  void write_input(const GraphPlan& plan, int tensor, const void* data, uint64_t size);
  // Executes all nodes in order.
  void run(const GraphPlan& plan);
  // Reads an activation back to the host.
  void read_output(const GraphPlan& plan, int tensor, void* data, uint64_t size);

  uint64_t copied_bytes() const { return copied_bytes_; }

 private:
  tessera_tensor materialize(const GraphPlan& plan, int tensor, int backend) const;
  void make_valid_on(const GraphPlan& plan, int slot, int backend);

  const KernelBinding* binding_for(int backend, int32_t op, int32_t dtype) const;

  std::vector<ComputeBackend*> backends_;
  std::vector<KernelBinding> bindings_;
  std::vector<tessera_buffer*> scratch_;      // per backend
  std::vector<uint64_t> scratch_size_;        // per backend
  std::vector<uint64_t> slot_offset_;         // per slot, same on every backend
  std::vector<uint32_t> valid_;               // per slot: bit b = current on backend b
  uint64_t copied_bytes_ = 0;
};

}  // namespace tessera
