#include "graph.hpp"

#include <string>

#include "ops/ops.hpp"
#include "tessera/cpp/plugin.hpp"

namespace tessera::cpu {
namespace {

std::string dtype_list(std::span<const int32_t> dtypes) {
  std::string s;
  for (int32_t d : dtypes) s += (s.empty() ? "" : ", ") + dtype_text(d);
  return s;
}

// The op's entry, or throws. NONE (a no-op, e.g. a pure view) gives NULL.
const OpEntry* entry_for(const tessera_node* raw, uint64_t index) {
  const std::string where = "graph node " + std::to_string(index);
  if (raw == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where + " is NULL");
  if (raw->struct_size < TESSERA_SIZE_THROUGH(tessera_node, f_params))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where + " has struct_size " + std::to_string(raw->struct_size) +
                                                       ", expected at least " +
                                                       std::to_string(TESSERA_SIZE_THROUGH(tessera_node, f_params)));
  if (raw->op == TESSERA_OP_NONE) return nullptr;
  const char* name = tessera_op_name(raw->op);
  const OpEntry* entry = find_op(raw->op);
  if (entry == nullptr)
    throw sdk::Error(TESSERA_ERR_UNSUPPORTED,
                     name != nullptr ? where + ": op '" + name + "' is not supported by the cpu plugin yet"
                                     : where + ": op id " + std::to_string(raw->op) + " is unknown to the cpu plugin");
  // A real dtype the op cannot take is "unsupported" (the scheduler should
  // have asked supports_op), not a malformed graph.
  const tessera_tensor* src0 = raw->src[0];
  if (src0 != nullptr && src0->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, dtype) &&
      !supports(raw->op, src0->dtype))
    throw sdk::Error(
        TESSERA_ERR_UNSUPPORTED,
        std::string(name) + " (" + where + "): src0 '" +
            (src0->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, name) && src0->name != nullptr ? src0->name
                                                                                                      : "unnamed") +
            "' has dtype " + dtype_text(src0->dtype) +
            ", which the cpu plugin does not support for this op (supported: " + dtype_list(entry->src0_dtypes) + ")");
  return entry;
}

}  // namespace

void execute_graph(tessera_backend& backend, const tessera_graph* graph) {
  if (graph == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "graph_execute: graph is NULL");
  if (graph->struct_size < TESSERA_SIZE_THROUGH(tessera_graph, nodes))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "graph_execute: graph has struct_size " +
                                                       std::to_string(graph->struct_size) + ", expected at least " +
                                                       std::to_string(TESSERA_SIZE_THROUGH(tessera_graph, nodes)));
  if (graph->n_nodes > 0 && graph->nodes == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     "graph_execute: graph has " + std::to_string(graph->n_nodes) + " nodes but nodes is NULL");
  // Validate everything first: a bad node late in the graph must not leave
  // the earlier nodes' outputs half written.
  for (uint64_t i = 0; i < graph->n_nodes; ++i)
    if (const OpEntry* e = entry_for(graph->nodes[i], i)) e->fn(Node(*graph->nodes[i], i), e->src0_dtypes, nullptr, backend.kernels);
  for (uint64_t i = 0; i < graph->n_nodes; ++i)
    if (const OpEntry* e = entry_for(graph->nodes[i], i))
      e->fn(Node(*graph->nodes[i], i), e->src0_dtypes, backend.pool.get(), backend.kernels);
}

}  // namespace tessera::cpu
