#include "tessera/core/graph_executor.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {

void GraphExecutor::prepare(const GraphPlan& plan) {
  if (backends_.size() > 32) throw Error("at most 32 backends per pipeline");
  slot_offset_.assign(plan.slots.size(), 0);
  uint64_t total = 0;
  for (std::size_t i = 0; i < plan.slots.size(); ++i) {
    slot_offset_[i] = total;
    total += (plan.slots[i].bytes + 63) / 64 * 64;  // keep every slot 64-byte aligned
  }
  scratch_.resize(backends_.size(), nullptr);
  scratch_size_.resize(backends_.size(), 0);
  for (std::size_t b = 0; b < backends_.size(); ++b) {
    if (scratch_size_[b] >= total && scratch_[b] != nullptr) continue;
    if (scratch_[b] != nullptr) backends_[b]->free(scratch_[b]);
    scratch_[b] = backends_[b]->allocate(total, "activations");
    scratch_size_[b] = total;
  }
  valid_.assign(plan.slots.size(), 0);
}

tessera_tensor GraphExecutor::materialize(const GraphPlan& plan, int index, int backend) const {
  const PlanTensor& t = plan.tensors.at(static_cast<std::size_t>(index));
  if (t.kind == PlanTensorKind::Resident) return t.resident;
  std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
  return make_tensor(t.dtype, ne, scratch_[static_cast<std::size_t>(backend)],
                     slot_offset_[static_cast<std::size_t>(t.slot)] + t.view_offset, t.name.c_str());
}

void GraphExecutor::write_input(const GraphPlan& plan, int tensor, const void* data, uint64_t size) {
  const PlanTensor& t = plan.tensors.at(static_cast<std::size_t>(tensor));
  for (std::size_t b = 0; b < backends_.size(); ++b)
    backends_[b]->write(scratch_[b], slot_offset_[static_cast<std::size_t>(t.slot)] + t.view_offset, data, size);
  valid_[static_cast<std::size_t>(t.slot)] = (backends_.size() >= 32) ? ~0u : ((1u << backends_.size()) - 1u);
}

void GraphExecutor::make_valid_on(const GraphPlan& plan, int slot, int backend) {
  auto& mask = valid_[static_cast<std::size_t>(slot)];
  if (mask & (1u << backend)) return;
  if (mask == 0)
    throw Error(fmt::format("activation '{}' is read before anything writes it", plan.slots[static_cast<std::size_t>(slot)].name),
                TESSERA_ERR_INTERNAL);
  int from = 0;
  while (!(mask & (1u << from))) ++from;
  const uint64_t bytes = plan.slots[static_cast<std::size_t>(slot)].bytes;
  const uint64_t offset = slot_offset_[static_cast<std::size_t>(slot)];
  std::vector<uint8_t> staging(bytes);
  backends_[static_cast<std::size_t>(from)]->synchronize();
  backends_[static_cast<std::size_t>(from)]->read(scratch_[static_cast<std::size_t>(from)], offset, staging.data(), bytes);
  backends_[static_cast<std::size_t>(backend)]->write(scratch_[static_cast<std::size_t>(backend)], offset, staging.data(), bytes);
  copied_bytes_ += bytes;
  mask |= 1u << backend;
}

void GraphExecutor::run(const GraphPlan& plan) {
  // Materialised tensors and nodes must outlive each execute() call.
  std::vector<tessera_tensor> tensors;
  std::vector<tessera_node> nodes;
  tensors.reserve(plan.nodes.size() * (1 + TESSERA_MAX_SOURCES));
  nodes.reserve(plan.nodes.size());
  std::vector<tessera_node*> batch;
  int batch_backend = -1;

  auto flush = [&] {
    if (!batch.empty()) backends_[static_cast<std::size_t>(batch_backend)]->execute(batch);
    batch.clear();
  };
  for (const PlanNode& pn : plan.nodes) {
    if (pn.backend != batch_backend) {
      flush();
      batch_backend = pn.backend;
    }
    tessera_node node{};
    node.struct_size = sizeof node;
    node.op = pn.op;
    for (std::size_t s = 0; s < TESSERA_MAX_SOURCES; ++s) {
      if (pn.src[s] < 0) continue;
      const PlanTensor& src = plan.tensors[static_cast<std::size_t>(pn.src[s])];
      if (src.kind == PlanTensorKind::Activation) {
        if (!(valid_[static_cast<std::size_t>(src.slot)] & (1u << pn.backend))) {
          flush();  // the producer may still be queued
          make_valid_on(plan, src.slot, pn.backend);
        }
      } else if (src.backend != pn.backend) {
        throw Error(fmt::format("'{}' lives on backend '{}' but a {} node reading it was placed on '{}'", src.name,
                                backends_[static_cast<std::size_t>(src.backend)]->name(), tessera_op_name(pn.op),
                                backends_[static_cast<std::size_t>(pn.backend)]->name()),
                    TESSERA_ERR_INTERNAL);
      }
      tensors.push_back(materialize(plan, pn.src[s], pn.backend));
      node.src[s] = &tensors.back();
    }
    tensors.push_back(materialize(plan, pn.dst, pn.backend));
    node.dst = &tensors.back();
    const PlanTensor& dst = plan.tensors[static_cast<std::size_t>(pn.dst)];
    if (dst.kind == PlanTensorKind::Activation) valid_[static_cast<std::size_t>(dst.slot)] = 1u << pn.backend;
    std::copy(pn.i_params.begin(), pn.i_params.end(), node.i_params);
    std::copy(pn.f_params.begin(), pn.f_params.end(), node.f_params);
    nodes.push_back(node);
    if (const KernelBinding* binding = binding_for(pn.backend, pn.op, node.src[0] ? node.src[0]->dtype : -1)) {
      flush();  // everything before it has been submitted, in order, on the same stream/thread
      const ComputeBackend& backend = *backends_[static_cast<std::size_t>(pn.backend)];
      const tessera_execution_context context = backend.execution_context();
      tessera_error err = make_plugin_error();
      KernelInstance& kernel = *binding->kernel;
      if (kernel.api()->execute(kernel.handle(), &nodes.back(), &context, &err) != TESSERA_OK)
        throw Error(fmt::format("kernel plugin '{}' failed on {} of backend '{}': {}", kernel.name(),
                                tessera_op_name(pn.op), backend.name(), err.message),
                    err.code);
      ++kernel.calls;
      continue;
    }
    batch.push_back(&nodes.back());
  }
  flush();
}

const KernelBinding* GraphExecutor::binding_for(int backend, int32_t op, int32_t dtype) const {
  for (const KernelBinding& b : bindings_)
    if (b.backend == backend && b.op == op && b.dtype == dtype) return &b;
  return nullptr;
}

void GraphExecutor::read_output(const GraphPlan& plan, int tensor, void* data, uint64_t size) {
  const PlanTensor& t = plan.tensors.at(static_cast<std::size_t>(tensor));
  const uint32_t mask = valid_[static_cast<std::size_t>(t.slot)];
  if (mask == 0) throw Error(fmt::format("output '{}' was never computed", t.name), TESSERA_ERR_INTERNAL);
  int from = 0;
  while (!(mask & (1u << from))) ++from;
  backends_[static_cast<std::size_t>(from)]->synchronize();
  backends_[static_cast<std::size_t>(from)]->read(scratch_[static_cast<std::size_t>(from)],
                                                  slot_offset_[static_cast<std::size_t>(t.slot)] + t.view_offset, data, size);
}

}  // namespace tessera
