#include "graph_cache.hpp"

#include <cstring>

namespace tessera::cuda {
namespace {

uint64_t float_bits(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

void add_tensor(Signature& s, const tessera_tensor* t, bool dynamic_offset) {
  if (t == nullptr) {
    s.push_back(~0ull);
    return;
  }
  s.push_back(static_cast<uint64_t>(static_cast<uint32_t>(t->dtype)) | (static_cast<uint64_t>(t->n_dims) << 32));
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<uint64_t>(t->ne[i]));
  for (int i = 0; i < 4; ++i) s.push_back(t->nb[i]);
  s.push_back(reinterpret_cast<uintptr_t>(t->buffer));
  s.push_back(dynamic_offset ? 0 : t->offset);
}

}  // namespace

Signature graph_signature(const tessera_graph& graph) {
  Signature s;
  s.reserve(graph.n_nodes * 64 + 1);
  s.push_back(graph.n_nodes);
  for (uint64_t i = 0; i < graph.n_nodes; ++i) {
    const tessera_node& n = *graph.nodes[i];
    s.push_back(static_cast<uint64_t>(static_cast<uint32_t>(n.op)));
    add_tensor(s, n.dst, n.op == TESSERA_OP_COPY);
    for (const tessera_tensor* src : n.src) add_tensor(s, src, false);
    for (int p = 0; p < TESSERA_MAX_OP_PARAMS; ++p) {
      const bool dynamic = n.op == TESSERA_OP_ATTENTION && p < 2;
      s.push_back(dynamic ? 0 : static_cast<uint64_t>(static_cast<uint32_t>(n.i_params[p])));
      s.push_back(float_bits(n.f_params[p]));
    }
  }
  return s;
}

cudaGraphExec_t GraphCache::find(const Signature& sig) const {
  for (const Entry& e : captured_)
    if (e.sig == sig) return e.exec;
  return nullptr;
}

bool GraphCache::repeated(const Signature& sig) const {
  for (const Signature& u : uncapturable_)
    if (u == sig) return false;
  for (const Signature& r : recent_)
    if (r == sig) return true;
  return false;
}

void GraphCache::remember(const Signature& sig) {
  for (const Signature& r : recent_)
    if (r == sig) return;
  if (recent_.size() == kRecent) recent_.erase(recent_.begin());
  recent_.push_back(sig);
}

void GraphCache::store(const Signature& sig, cudaGraphExec_t exec) {
  if (captured_.size() == kKeep) {
    (void)cudaGraphExecDestroy(captured_.front().exec);
    captured_.erase(captured_.begin());
  }
  captured_.push_back({sig, exec});
}

void GraphCache::mark_uncapturable(const Signature& sig) {
  if (uncapturable_.size() == kRecent) uncapturable_.erase(uncapturable_.begin());
  uncapturable_.push_back(sig);
}

void GraphCache::reset() {
  for (const Entry& e : captured_) (void)cudaGraphExecDestroy(e.exec);
  captured_.clear();
}

}  // namespace tessera::cuda
