// graph_execute for the cpu backend: validate every node, then run them in
// order on the backend's thread pool.
#pragma once

#include "backend.hpp"

namespace tessera::cpu {

// Throws sdk::Error: INVALID_ARGUMENT for a malformed graph or node,
// UNSUPPORTED for an op (or op x dtype) this plugin does not implement.
// Nothing is written unless the whole graph validates.
void execute_graph(tessera_backend& backend, const tessera_graph* graph);

}  // namespace tessera::cpu
