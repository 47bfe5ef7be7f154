#include "graph.hpp"

#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "node.hpp"
#include "ops.hpp"

namespace tessera::cuda {
namespace {

std::string dtype_list(std::span<const int32_t> dtypes) {
  std::string s;
  for (int32_t d : dtypes) s += (s.empty() ? "" : ", ") + dtype_text(d);
  return s.empty() ? "none" : s;
}

// Structural checks of the node itself and "unsupported" (rather than
// "malformed") for a real dtype the op cannot take, as the cpu plugin reports it.
void check_node(const tessera_node* raw, uint64_t index) {
  const std::string where = "cuda: graph node " + std::to_string(index);
  if (raw == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where + " is NULL");
  if (raw->struct_size < TESSERA_SIZE_THROUGH(tessera_node, f_params))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, where + " has struct_size " + std::to_string(raw->struct_size) +
                                                       ", expected at least " +
                                                       std::to_string(TESSERA_SIZE_THROUGH(tessera_node, f_params)));
  if (raw->op == TESSERA_OP_NONE) return;
  const char* name = tessera_op_name(raw->op);
  if (name == nullptr)
    throw sdk::Error(TESSERA_ERR_UNSUPPORTED, where + ": op id " + std::to_string(raw->op) + " is unknown to the cuda plugin");
  const tessera_tensor* src0 = raw->src[0];
  if (src0 != nullptr && src0->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, dtype) && !supports(raw->op, src0->dtype)) {
    const bool named = src0->struct_size >= TESSERA_SIZE_THROUGH(tessera_tensor, name) && src0->name != nullptr;
    throw sdk::Error(TESSERA_ERR_UNSUPPORTED,
                     "cuda: " + std::string(name) + " (graph node " + std::to_string(index) + "): src0 '" +
                         (named ? src0->name : "unnamed") + "' has dtype " + dtype_text(src0->dtype) +
                         ", which the cuda plugin does not support for this op (supported: " +
                         dtype_list(supported_dtypes(raw->op)) + ")");
  }
}

void launch_all(const std::vector<PreparedNode>& nodes, const tessera_backend& backend) {
  for (const PreparedNode& p : nodes) {
    if (!p.launch) continue;
    if (cudaError_t e = p.launch(backend.stream); e != cudaSuccess)
      throw sdk::Error(status_of(e), "cuda: " + p.where + ": kernel launch failed: CUDA error: " + cuda_error_text(e));
    if (backend.sync_every_op)
      if (cudaError_t e = cudaStreamSynchronize(backend.stream); e != cudaSuccess)
        throw sdk::Error(status_of(e), "cuda: " + p.where + ": kernel failed: CUDA error: " + cuda_error_text(e));
  }
}

// Uploads this step's NodeDyn values (pinned staging, guarded by an event so
// the staging copy is not overwritten while a previous upload still reads it).
void upload_params(tessera_backend& backend, const std::vector<PreparedNode>& nodes) {
  DynamicParams& p = backend.params;
  cuda_check(cudaEventSynchronize(p.uploaded), "graph_execute: waiting for the previous parameter upload");
  for (std::size_t i = 0; i < nodes.size(); ++i) p.host[i] = nodes[i].dyn;
  if (nodes.empty()) return;
  cuda_check(cudaMemcpyAsync(p.device, p.host, nodes.size() * sizeof(NodeDyn), cudaMemcpyHostToDevice, backend.stream),
             "graph_execute: uploading node parameters");
  cuda_check(cudaEventRecord(p.uploaded, backend.stream), "graph_execute: cudaEventRecord");
}

// Captures the launches into a CUDA graph. Returns nullptr (after logging
// why) when capture is not possible, e.g. a kernel needs more scratch.
cudaGraphExec_t capture(tessera_backend& backend, const std::vector<PreparedNode>& nodes) {
  cudaStream_t stream = backend.stream;
  cuda_check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "graph_execute: cudaStreamBeginCapture");
  cudaError_t failed = cudaSuccess;
  std::string where;
  for (const PreparedNode& p : nodes) {
    if (!p.launch) continue;
    if (cudaError_t e = p.launch(stream); e != cudaSuccess) {
      failed = e;
      where = p.where;
      break;
    }
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (failed != cudaSuccess || ended != cudaSuccess || graph == nullptr) {
    if (graph != nullptr) (void)cudaGraphDestroy(graph);
    (void)cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
    backend.log.debug("CUDA graph capture skipped" + (where.empty() ? std::string() : " at " + where) + ": " +
                      cuda_error_text(failed != cudaSuccess ? failed : ended));
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  (void)cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    (void)cudaGetLastError();
    backend.log.debug("CUDA graph instantiation failed: " + cuda_error_text(made));
    return nullptr;
  }
  return exec;
}

}  // namespace

void execute_graph(tessera_backend& backend, const tessera_graph* graph) {
  if (graph == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "cuda: graph_execute: graph is NULL");
  if (graph->struct_size < TESSERA_SIZE_THROUGH(tessera_graph, nodes))
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, "cuda: graph_execute: graph has struct_size " +
                                                       std::to_string(graph->struct_size) + ", expected at least " +
                                                       std::to_string(TESSERA_SIZE_THROUGH(tessera_graph, nodes)));
  if (graph->n_nodes > 0 && graph->nodes == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     "cuda: graph_execute: graph has " + std::to_string(graph->n_nodes) + " nodes but nodes is NULL");
  DeviceGuard guard(backend.device, "graph_execute");
  reserve_params(backend, graph->n_nodes);

  // Validate everything first: a bad node late in the graph must not leave
  // the earlier nodes' outputs half written.
  std::vector<PreparedNode> nodes;
  nodes.reserve(graph->n_nodes);
  for (uint64_t i = 0; i < graph->n_nodes; ++i) {
    check_node(graph->nodes[i], i);
    nodes.push_back(prepare_node(Node(*graph->nodes[i], i, backend), backend, backend.params.device + i));
  }
  upload_params(backend, nodes);

  if (!backend.cuda_graphs) {
    launch_all(nodes, backend);
    return;
  }
  Signature sig = graph_signature(*graph);
  // What captured kernels point at besides the graph's own tensors.
  sig.push_back(reinterpret_cast<uintptr_t>(backend.params.device));
  sig.push_back(reinterpret_cast<uintptr_t>(backend.attention_scratch->data()));
  sig.push_back(reinterpret_cast<uintptr_t>(backend.mul_mat_scratch->data()));
  if (cudaGraphExec_t exec = backend.graphs.find(sig)) {
    cuda_check(cudaGraphLaunch(exec, backend.stream), "graph_execute: cudaGraphLaunch");
    ++backend.graphs.replays;
    return;
  }
  if (backend.graphs.repeated(sig)) {
    if (cudaGraphExec_t exec = capture(backend, nodes)) {
      backend.graphs.store(sig, exec);
      ++backend.graphs.captures;
      backend.log.debug("GPU " + std::to_string(backend.device) + ": captured a CUDA graph of " +
                        std::to_string(graph->n_nodes) + " nodes (" + std::to_string(backend.graphs.captures) +
                        " captured, " + std::to_string(backend.graphs.replays) + " replays so far)");
      cuda_check(cudaGraphLaunch(exec, backend.stream), "graph_execute: cudaGraphLaunch");
      return;
    }
    backend.graphs.mark_uncapturable(sig);
  }
  launch_all(nodes, backend);
  backend.graphs.remember(sig);
}

}  // namespace tessera::cuda
