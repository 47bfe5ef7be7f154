#include "scheduler.hpp"

#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "cuda_sim/device.hpp"

namespace cuda_sim {
namespace {

namespace ctx = boost::context;

constexpr int kWarp = 32;
// Kernels keep per-thread arrays (a head's accumulators) on the stack.
constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kGuardBytes = 4096;

// Fiber stacks with a guard page below each, reused across blocks and launches.
class StackPool {
 public:
  ~StackPool() {
    for (void* base : free_) munmap(base, kStackBytes + kGuardBytes);
  }
  void* take() {
    if (!free_.empty()) {
      void* base = free_.back();
      free_.pop_back();
      return base;
    }
    void* base = mmap(nullptr, kStackBytes + kGuardBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    mprotect(base, kGuardBytes, PROT_NONE);
    return base;
  }
  void give(void* base) { free_.push_back(base); }

 private:
  std::vector<void*> free_;
};

StackPool& stack_pool() {
  static thread_local StackPool pool;
  return pool;
}

struct PooledStack {
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(stack_pool().take()) + kGuardBytes + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) noexcept {
    stack_pool().give(static_cast<char*>(sc.sp) - kStackBytes - kGuardBytes);
  }
};

enum class State { running, warp_wait, block_wait, done };

struct Thread {
  uint3 index{};
  int linear = 0;
  State state = State::running;
  int exchange_parity = 0;
  uint64_t collectives = 0;  // warp collectives this thread has entered
  ctx::fiber fiber;      // this thread, while suspended
  ctx::fiber scheduler;  // the scheduler, while this thread runs
};

struct Block {
  dim3 grid, block;
  uint3 index{};
  std::vector<Thread> threads;
  std::vector<uint64_t> exchange[2];  // one slot per thread, alternating per collective
  void* dynamic_shared = nullptr;
  Thread* current = nullptr;
  std::string failure;
};

thread_local Block* g_block = nullptr;

Block& block() {
  if (g_block == nullptr || g_block->current == nullptr) {
    // A device built-in called from host code: a bug in the code under test.
    std::fprintf(stderr, "cuda_sim: a device built-in was called outside a kernel\n");
    std::abort();
  }
  return *g_block;
}

void yield(State state) {
  Thread& t = *block().current;
  t.state = state;
  t.scheduler = std::move(t.scheduler).resume();
}

int warp_of(const Thread& t) { return t.linear / kWarp; }

std::string describe(const Block& b) {
  std::string out;
  int running = 0, warp = 0, barrier = 0, done = 0;
  for (const Thread& t : b.threads) {
    running += t.state == State::running;
    warp += t.state == State::warp_wait;
    barrier += t.state == State::block_wait;
    done += t.state == State::done;
  }
  return "block (" + std::to_string(b.index.x) + "," + std::to_string(b.index.y) + "," + std::to_string(b.index.z) +
         "): " + std::to_string(warp) + " threads at a warp collective, " + std::to_string(barrier) +
         " at __syncthreads, " + std::to_string(done) + " exited";
}

// Releases the barriers every live participant has reached. Returns whether
// any thread can run again.
bool release(Block& b) {
  bool any = false;
  const int n = static_cast<int>(b.threads.size());
  for (int w = 0; w * kWarp < n; ++w) {
    bool all = true, some = false;
    for (int i = w * kWarp; i < std::min(n, (w + 1) * kWarp); ++i) {
      const State s = b.threads[i].state;
      if (s == State::done) continue;
      if (s != State::warp_wait) all = false;
      else some = true;
    }
    if (all && some) {
      for (int i = w * kWarp; i < std::min(n, (w + 1) * kWarp); ++i)
        if (b.threads[i].state == State::warp_wait) b.threads[i].state = State::running;
      any = true;
    }
  }
  bool all = true, some = false;
  for (const Thread& t : b.threads) {
    if (t.state == State::done) continue;
    if (t.state != State::block_wait) all = false;
    else some = true;
  }
  if (all && some) {
    for (Thread& t : b.threads)
      if (t.state == State::block_wait) t.state = State::running;
    any = true;
  }
  return any;
}

std::string run_block(Block& b, const KernelBody& body) {
  const int n = static_cast<int>(b.block.x * b.block.y * b.block.z);
  b.threads.clear();
  b.threads.resize(static_cast<size_t>(n));
  for (auto& slots : b.exchange) slots.assign(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i) {
    Thread& t = b.threads[static_cast<size_t>(i)];
    t.linear = i;
    t.index = uint3{static_cast<unsigned>(i) % b.block.x, static_cast<unsigned>(i) / b.block.x % b.block.y,
                    static_cast<unsigned>(i) / (b.block.x * b.block.y)};
    t.fiber = ctx::fiber(std::allocator_arg, PooledStack{}, [&t, &body](ctx::fiber&& scheduler) {
      t.scheduler = std::move(scheduler);
      body();
      t.state = State::done;
      return std::move(t.scheduler);
    });
  }
  b.failure.clear();
  for (;;) {
    // Highest thread first: a read of shared memory that lacks the barrier
    // after a lower thread's write then sees the stale value, as it can on a GPU.
    bool ran = false;
    for (int i = n - 1; i >= 0; --i) {
      Thread& t = b.threads[static_cast<size_t>(i)];
      if (t.state != State::running) continue;
      b.current = &t;
      t.fiber = std::move(t.fiber).resume();
      b.current = nullptr;
      ran = true;
      if (!b.failure.empty()) break;
    }
    if (!b.failure.empty()) break;
    bool all_done = true;
    for (const Thread& t : b.threads) all_done = all_done && t.state == State::done;
    if (all_done) return {};
    if (!release(b) && !ran) {
      b.failure = "deadlock in " + describe(b) + " (a barrier or shuffle that not every live thread reaches)";
      break;
    }
  }
  // Abandon the suspended fibers (their destructors unwind the stacks).
  std::string failure = b.failure;
  b.threads.clear();
  return failure;
}

}  // namespace

uint3 thread_idx() { return block().current->index; }
uint3 block_idx() { return block().index; }
dim3 block_dim() { return block().block; }
dim3 grid_dim() { return block().grid; }
int lane_id() { return block().current->linear % kWarp; }
void* dynamic_shared_base() { return block().dynamic_shared; }

void sync_threads() { yield(State::block_wait); }

void sync_warp(unsigned /*mask*/) { yield(State::warp_wait); }

uint64_t exchange(unsigned mask, uint64_t value, int src_lane) {
  Block& b = block();
  Thread& t = *b.current;
  const int base = warp_of(t) * kWarp;
  const int parity = t.exchange_parity;
  t.exchange_parity ^= 1;
  b.exchange[parity][static_cast<size_t>(t.linear)] = value;
  const uint64_t round = ++t.collectives;
  yield(State::warp_wait);
  if (src_lane < 0 || src_lane >= kWarp) return value;
  const int src = base + src_lane;
  if (src >= static_cast<int>(b.threads.size())) return value;  // past a partial last warp
  // The source lane must have entered this same collective (it may be one
  // ahead by now); one that had exited before it left no value.
  if (b.threads[static_cast<size_t>(src)].collectives < round && (mask >> src_lane & 1u)) {
    b.failure = "thread " + std::to_string(t.linear) + " shuffles from lane " + std::to_string(src_lane) +
                ", which had exited, in " + describe(b);
    yield(State::warp_wait);  // never resumed: the scheduler stops on the failure
  }
  return b.exchange[parity][static_cast<size_t>(src)];
}

std::string run_grid(dim3 grid, dim3 block_shape, size_t shared_bytes, const KernelBody& body) {
  Block b;
  b.grid = grid;
  b.block = block_shape;
  std::unique_ptr<std::byte[], void (*)(void*)> shared(
      static_cast<std::byte*>(std::aligned_alloc(128, (shared_bytes + 127) / 128 * 128 + 128)), std::free);
  b.dynamic_shared = shared.get();
  Block* outer = g_block;
  g_block = &b;
  std::string failure;
  // Blocks in reverse order: a kernel that assumes block 0 runs first (which
  // CUDA never promises) then fails here too. Dynamic shared memory starts
  // as NaN bytes in every block, so a read of a slot nobody wrote shows.
  for (unsigned z = grid.z; z-- > 0 && failure.empty();)
    for (unsigned y = grid.y; y-- > 0 && failure.empty();)
      for (unsigned x = grid.x; x-- > 0 && failure.empty();) {
        b.index = uint3{x, y, z};
        if (shared_bytes > 0) std::memset(b.dynamic_shared, 0xFF, shared_bytes);
        failure = run_block(b, body);
      }
  g_block = outer;
  return failure;
}

}  // namespace cuda_sim
