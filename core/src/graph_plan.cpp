#include "tessera/core/graph_plan.hpp"

#include "tessera/core/compute_backend.hpp"

namespace tessera {

int GraphPlan::activation(const std::string& name, int32_t dtype, std::vector<int64_t> ne) {
  PlanTensor t;
  t.kind = PlanTensorKind::Activation;
  t.slot = static_cast<int>(slots.size());
  t.dtype = dtype;
  t.n_dims = static_cast<uint32_t>(ne.size());
  for (std::size_t i = 0; i < ne.size(); ++i) t.ne[i] = ne[i];
  t.name = name;
  slots.push_back({name, tensor_bytes(dtype, ne)});
  tensors.push_back(t);
  return static_cast<int>(tensors.size()) - 1;
}

int GraphPlan::view(int of, const std::string& name, std::vector<int64_t> ne, uint64_t byte_offset) {
  PlanTensor t = tensors.at(static_cast<std::size_t>(of));
  t.n_dims = static_cast<uint32_t>(ne.size());
  t.ne = {1, 1, 1, 1};
  for (std::size_t i = 0; i < ne.size(); ++i) t.ne[i] = ne[i];
  t.view_offset += byte_offset;
  t.name = name;
  tensors.push_back(t);
  return static_cast<int>(tensors.size()) - 1;
}

int GraphPlan::resident(const tessera_tensor& tensor, int backend, const std::string& name) {
  PlanTensor t;
  t.kind = PlanTensorKind::Resident;
  t.backend = backend;
  t.resident = tensor;
  t.dtype = tensor.dtype;
  t.n_dims = tensor.n_dims;
  for (int i = 0; i < 4; ++i) t.ne[i] = tensor.ne[i];
  t.name = name;
  tensors.push_back(t);
  return static_cast<int>(tensors.size()) - 1;
}

PlanNode& GraphPlan::add(int32_t op, int dst, std::initializer_list<int> sources, int backend) {
  PlanNode node;
  node.op = op;
  node.dst = dst;
  int i = 0;
  for (int s : sources) node.src[static_cast<std::size_t>(i++)] = s;
  node.backend = backend;
  nodes.push_back(node);
  return nodes.back();
}

}  // namespace tessera
