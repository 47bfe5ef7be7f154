#include "thread_pool.hpp"

#include <algorithm>
#include <chrono>

namespace tessera::cpu {
namespace {
// Set on the pool's own threads, so a task that calls parallel_for again runs
// inline instead of waiting for workers that are busy running it.
// initial-exec: 12 bytes in the static TLS block glibc reserves for dlopen'ed
// libraries, instead of lazily allocated dynamic TLS, which LeakSanitizer
// cannot walk safely at exit (it crashed scanning this plugin's DTLS).
#define TESSERA_STATIC_TLS __attribute__((tls_model("initial-exec")))
thread_local TESSERA_STATIC_TLS const ThreadPool* t_worker_of = nullptr;
thread_local TESSERA_STATIC_TLS int t_worker_index = 0;
// How long a waiting thread spins before it sleeps on the condition
// variable: long enough to bridge the gap between two ops of one decode step,
// short enough not to burn a core while the model idles.
constexpr auto kSpinFor = std::chrono::microseconds(200);

template <class Ready>
bool spin_until(Ready&& ready) {
  const auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

std::pair<int64_t, int64_t> ThreadPool::range_of(int64_t n_tasks, int parts, int index) {
  // Even split, the first (n_tasks % parts) ranges one task longer.
  const int64_t base = n_tasks / parts, extra = n_tasks % parts;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

void ThreadPool::parallel_for(int64_t n_tasks, tessera_cpu_task_fn fn, void* user) {
  if (n_tasks <= 0 || fn == nullptr) return;
  const int parts = static_cast<int>(std::min<int64_t>(n_threads_, n_tasks));
  bool inline_only = parts == 1 || t_worker_of == this;
  if (!inline_only) {
    std::lock_guard lock(mutex_);
    if (busy_) {
      inline_only = true;  // nested call from the caller's own range
    } else {
      busy_ = true;
      job_tasks_ = n_tasks;
      job_parts_ = parts;
      job_fn_ = fn;
      job_user_ = user;
      pending_ = n_threads_ - 1;
      ++generation_;
    }
  }
  if (inline_only) {
    // A nested call keeps the thread index of the range it runs in, so
    // per-thread scratch indexed by `thread` is never shared.
    fn(user, 0, n_tasks, t_worker_of == this ? t_worker_index : 0);
    return;
  }
  wake_.notify_all();
  const auto [begin, end] = range_of(n_tasks, parts, 0);
  fn(user, begin, end, 0);
  spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; });
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return pending_.load() == 0; });
  busy_ = false;
}

void ThreadPool::worker_loop(int index) {
  t_worker_of = this;
  t_worker_index = index;
  uint64_t seen = 0;
  for (;;) {
    int64_t tasks;
    int parts;
    tessera_cpu_task_fn fn;
    void* user;
    spin_until([&] { return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_.load() || generation_.load() != seen; });
      if (stopping_) return;
      seen = generation_;
      tasks = job_tasks_;
      parts = job_parts_;
      fn = job_fn_;
      user = job_user_;
    }
    if (index < parts) {
      const auto [begin, end] = range_of(tasks, parts, index);
      fn(user, begin, end, index);
    }
    {
      std::lock_guard lock(mutex_);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
    }
  }
}

}  // namespace tessera::cpu
