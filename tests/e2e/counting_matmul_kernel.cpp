// Test kernel plugin: overrides mul_mat.f32 of the `cpu` backend with a plain
// loop over the backend's own buffers (resolved with buffer_base), counting
// the nodes it runs and logging the count through the host when destroyed.
// Loaded only by tests (tests/e2e), never installed.
#include <cstdio>
#include <memory>

#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

namespace {

const tessera_host_api* g_host = nullptr;

struct CountingKernel {
  long calls = 0;
};

tessera_status initialize(const tessera_host_api* host, void** state, tessera_error*) {
  g_host = host;
  *state = nullptr;
  return TESSERA_OK;
}

tessera_status create(void*, const tessera_config*, tessera_kernel** out, tessera_error* err) {
  return tessera::sdk::guarded(err, [&] { *out = reinterpret_cast<tessera_kernel*>(new CountingKernel()); });
}

void destroy(tessera_kernel* kernel) {
  auto* k = reinterpret_cast<CountingKernel*>(kernel);
  char line[64];
  std::snprintf(line, sizeof line, "executed %ld nodes", k->calls);
  tessera::sdk::Log(g_host, "counting_matmul").info(line);
  delete k;
}

const char* at(const tessera_execution_context* ctx, const tessera_tensor* t) {
  return static_cast<const char*>(ctx->compute->buffer_base(t->buffer)) + t->offset;
}

tessera_status execute(tessera_kernel* kernel, const tessera_node* node, const tessera_execution_context* ctx,
                       tessera_error* err) {
  const tessera_tensor* w = node->src[0];
  const tessera_tensor* x = node->src[1];
  const tessera_tensor* d = node->dst;
  if (w == nullptr || x == nullptr || d == nullptr || w->dtype != TESSERA_DTYPE_F32 || x->dtype != TESSERA_DTYPE_F32)
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT, "counting_matmul: expected F32 weights and activations");
  if (w->ne[0] != x->ne[0] || d->ne[0] != w->ne[1] || d->ne[1] != x->ne[1])
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT, "counting_matmul: shapes do not match");
  for (int64_t n = 0; n < x->ne[1]; ++n)
    for (int64_t m = 0; m < w->ne[1]; ++m) {
      const auto* row = reinterpret_cast<const float*>(at(ctx, w) + static_cast<uint64_t>(m) * w->nb[1]);
      const auto* col = reinterpret_cast<const float*>(at(ctx, x) + static_cast<uint64_t>(n) * x->nb[1]);
      double sum = 0;
      for (int64_t k = 0; k < w->ne[0]; ++k) sum += static_cast<double>(row[k]) * col[k];
      auto* out = reinterpret_cast<float*>(const_cast<char*>(at(ctx, d)) + static_cast<uint64_t>(m) * d->nb[0] +
                                           static_cast<uint64_t>(n) * d->nb[1]);
      *out = static_cast<float>(sum);
    }
  reinterpret_cast<CountingKernel*>(kernel)->calls++;
  return TESSERA_OK;
}

const tessera_kernel_op kMulMatF32 = {sizeof(tessera_kernel_op), TESSERA_OP_MUL_MAT, TESSERA_DTYPE_F32};
const tessera_kernel_op* const kOps[] = {&kMulMatF32};
const tessera_kernel_interface kKernel = {sizeof(tessera_kernel_interface), "cpu", 1, kOps, create, destroy, execute};
const tessera_plugin_descriptor kDescriptor = {
    sizeof(tessera_plugin_descriptor), TESSERA_ABI_VERSION_MAJOR, TESSERA_ABI_VERSION_MINOR, TESSERA_KIND_KERNEL,
    "counting_matmul", "1.0.0", "test kernel: mul_mat.f32 for cpu, counting its calls", 0, nullptr, initialize,
    nullptr, nullptr, nullptr, nullptr, &kKernel, "tessera tests", "Apache-2.0"};

}  // namespace

extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { return &kDescriptor; }
