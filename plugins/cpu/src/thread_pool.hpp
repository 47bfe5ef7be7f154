// A fixed pool of worker threads owned by one backend. The calling thread
// takes part as worker 0, so a pool of N threads starts N - 1 of its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tessera/cpu/context.h"

namespace tessera::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // The C-level primitive behind tessera_cpu_context::parallel_for.
  void parallel_for(int64_t n_tasks, tessera_cpu_task_fn fn, void* user);

  // C++ convenience: body(begin, end, thread). The first exception thrown by
  // any range is rethrown here after every range has finished.
  template <class Body>
  void run(int64_t n_tasks, Body&& body) {
    struct Shared {
      Body* body;
      std::mutex mutex;
      std::exception_ptr error;
    } shared{&body, {}, nullptr};
    parallel_for(
        n_tasks,
        [](void* user, int64_t begin, int64_t end, int thread) {
          auto* s = static_cast<Shared*>(user);
          try {
            (*s->body)(begin, end, thread);
          } catch (...) {
            std::lock_guard lock(s->mutex);
            if (!s->error) s->error = std::current_exception();
          }
        },
        &shared);
    if (shared.error) std::rethrow_exception(shared.error);
  }

 private:
  void worker_loop(int index);
  // Range of worker `index` when `n_tasks` is split over `parts` workers.
  static std::pair<int64_t, int64_t> range_of(int64_t n_tasks, int parts, int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Written under mutex_; atomic so waiters can spin on them briefly before
  // sleeping (a decode step runs hundreds of microsecond-sized ops, and a
  // futex wake-up per op costs more than the op).
  std::atomic<uint64_t> generation_{0};  // bumped once per job
  std::atomic<bool> stopping_{false};
  bool busy_ = false;          // a job is running (nested calls run inline)
  std::atomic<int> pending_{0};  // workers still running the current job
  // The current job.
  int64_t job_tasks_ = 0;
  int job_parts_ = 0;
  tessera_cpu_task_fn job_fn_ = nullptr;
  void* job_user_ = nullptr;
};

}  // namespace tessera::cpu
