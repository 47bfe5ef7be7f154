#include "backend.hpp"

#include <string>

#include "tessera/cpp/plugin.hpp"

namespace tessera::cpu {
namespace {

void context_parallel_for(const tessera_cpu_context* ctx, int64_t n_tasks, tessera_cpu_task_fn fn, void* user) {
  if (ctx == nullptr || ctx->pool == nullptr) return;
  static_cast<ThreadPool*>(ctx->pool)->parallel_for(n_tasks, fn, user);
}

}  // namespace

std::unique_ptr<tessera_backend> make_backend(int32_t device, int threads, const Kernels& kernels) {
  auto backend = std::make_unique<tessera_backend>();
  backend->device = device;
  backend->kernels = kernels;
  backend->pool = std::make_unique<ThreadPool>(threads);
  backend->context.struct_size = sizeof(tessera_cpu_context);
  backend->context.n_threads = backend->pool->size();
  backend->context.parallel_for = context_parallel_for;
  backend->context.pool = backend->pool.get();
  return backend;
}

const tessera_backend& checked(const tessera_backend* backend, const char* what) {
  if (backend == nullptr) throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(what) + ": backend is NULL");
  if (backend->magic != kBackendMagic)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                     std::string(what) + ": not a backend of the cpu plugin (freed, or from another plugin)");
  return *backend;
}

tessera_backend& checked(tessera_backend* backend, const char* what) {
  return const_cast<tessera_backend&>(checked(static_cast<const tessera_backend*>(backend), what));
}

}  // namespace tessera::cpu
