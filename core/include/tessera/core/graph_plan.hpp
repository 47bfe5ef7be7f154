// A backend-neutral plan of one model evaluation: tensors (weights, KV
// cache, activations) and the ops between them, each op already assigned to
// a backend. The GraphExecutor turns it into tessera_graph calls.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/compute.h"

namespace tessera {

enum class PlanTensorKind {
  Resident,   // lives on one backend for good (weights, KV cache views)
  Activation  // a scratch slot that the executor mirrors on every backend
};

struct PlanTensor {
  PlanTensorKind kind = PlanTensorKind::Activation;
  int backend = -1;          // Resident: index of its backend
  tessera_tensor resident{}; // Resident: the descriptor
  int slot = -1;             // Activation: storage slot
  int32_t dtype = TESSERA_DTYPE_F32;
  std::array<int64_t, 4> ne{1, 1, 1, 1};
  uint32_t n_dims = 1;
  uint64_t view_offset = 0;  // Activation: bytes into the slot
  std::string name;
};

struct PlanNode {
  int32_t op = TESSERA_OP_NONE;
  int dst = -1;
  std::array<int, TESSERA_MAX_SOURCES> src{-1, -1, -1, -1};
  std::array<int32_t, TESSERA_MAX_OP_PARAMS> i_params{};
  std::array<float, TESSERA_MAX_OP_PARAMS> f_params{};
  int backend = 0;
};

struct ActivationSlot {
  std::string name;
  uint64_t bytes = 0;
};

struct GraphPlan {
  std::vector<PlanTensor> tensors;
  std::vector<PlanNode> nodes;
  std::vector<ActivationSlot> slots;

  // A new activation slot with one contiguous F32/I32 view over it.
  int activation(const std::string& name, int32_t dtype, std::vector<int64_t> ne);
  // Another view of an activation's slot (same bytes, other shape/offset).
  int view(int of, const std::string& name, std::vector<int64_t> ne, uint64_t byte_offset = 0);
  int resident(const tessera_tensor& tensor, int backend, const std::string& name);
  PlanNode& add(int32_t op, int dst, std::initializer_list<int> sources, int backend);
};

}  // namespace tessera
