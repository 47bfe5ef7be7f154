// graph_execute for the cuda plugin: validate every node, upload the
// per-node dynamic values, then launch eagerly or replay a CUDA graph
// (policy in graph_cache.hpp).
#pragma once

#include "backend.hpp"

namespace tessera::cuda {

void execute_graph(tessera_backend& backend, const tessera_graph* graph);

}  // namespace tessera::cuda
