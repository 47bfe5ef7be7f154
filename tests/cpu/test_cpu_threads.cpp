// The backend's thread pool: the native context kernel plugins use, and
// results that do not depend on the thread count.
#include <atomic>
#include <mutex>
#include <set>

#include "cpu_test_support.hpp"

using namespace tessera::cpu_test;

namespace {

struct Coverage {
  std::vector<std::atomic<int>> hits;
  std::mutex mutex;
  std::set<int> threads;
  std::set<std::pair<int64_t, int64_t>> ranges;
  explicit Coverage(size_t n) : hits(n) {}
};

void count_range(void* user, int64_t begin, int64_t end, int thread) {
  auto* c = static_cast<Coverage*>(user);
  for (int64_t i = begin; i < end; ++i) c->hits[static_cast<size_t>(i)]++;
  std::lock_guard lock(c->mutex);
  c->threads.insert(thread);
  c->ranges.insert({begin, end});
}

const tessera_cpu_context& context_of(const Backend& b) {
  return *static_cast<const tessera_cpu_context*>(api().native_context(b.get()));
}

}  // namespace

TEST(cpu_threads, ParallelForCoversEveryTaskOnceOnDistinctThreads) {
  Backend b(3);
  const tessera_cpu_context& ctx = context_of(b);
  ASSERT_EQ(ctx.n_threads, 3);
  for (int64_t n : {1, 2, 3, 7, 1000}) {
    Coverage c(static_cast<size_t>(n));
    ctx.parallel_for(&ctx, n, count_range, &c);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(c.hits[static_cast<size_t>(i)].load(), 1) << "task " << i << " of " << n;
    EXPECT_EQ(c.ranges.size(), static_cast<size_t>(std::min<int64_t>(n, 3))) << n;
    EXPECT_EQ(c.threads.size(), c.ranges.size());
    for (int t : c.threads) EXPECT_TRUE(t >= 0 && t < 3) << t;
  }
  Coverage none(0);
  ctx.parallel_for(&ctx, 0, count_range, &none);
  EXPECT_TRUE(none.ranges.empty());
}

TEST(cpu_threads, NestedParallelForRunsInlineInsteadOfDeadlocking) {
  Backend b(2);
  const tessera_cpu_context& ctx = context_of(b);
  struct Outer {
    const tessera_cpu_context* ctx;
    std::atomic<int> inner_tasks{0};
  } outer{&ctx};
  ctx.parallel_for(
      &ctx, 4,
      [](void* user, int64_t begin, int64_t end, int) {
        auto* o = static_cast<Outer*>(user);
        for (int64_t i = begin; i < end; ++i)
          o->ctx->parallel_for(
              o->ctx, 5,
              [](void* u, int64_t b2, int64_t e2, int) { static_cast<Outer*>(u)->inner_tasks += int(e2 - b2); }, o);
      },
      &outer);
  EXPECT_EQ(outer.inner_tasks.load(), 4 * 5);
}

TEST(cpu_threads, ResultsAreBitIdenticalForOneAndThreeThreads) {
  // A graph touching every threaded op, on sizes that do not divide evenly.
  auto run_with = [](int threads) {
    Backend b(threads);
    const int64_t k = 45, m = 37, n = 7, vocab = 11;
    auto table = b.tensor(TESSERA_DTYPE_F16, {k, vocab}, random_halves(k * vocab, 40), "emb");
    auto ids = b.tensor(TESSERA_DTYPE_I32, {n}, std::vector<int32_t>{1, 4, 1, 0, 10, 9, 3}, "ids");
    auto w = b.tensor(TESSERA_DTYPE_F32, {k, m}, random_floats(k * m, 41), "w");
    auto g = b.tensor(TESSERA_DTYPE_F32, {k}, random_floats(k, 42), "g");
    auto pos = b.tensor(TESSERA_DTYPE_I32, {n}, std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6}, "pos");
    auto x = b.tensor(TESSERA_DTYPE_F32, {k, n}, nullptr, "x");
    auto y = b.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "y");
    auto z = b.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "z");
    auto h = b.tensor(TESSERA_DTYPE_F16, {m, n}, nullptr, "h");
    auto n0 = make_node(TESSERA_OP_GET_ROWS, &x, {&table, &ids});
    auto n1 = make_node(TESSERA_OP_RMS_NORM, &x, {&x});
    n1.f_params[0] = 1e-5f;
    auto n2 = make_node(TESSERA_OP_MUL, &x, {&x, &g});
    auto n3 = make_node(TESSERA_OP_MUL_MAT, &y, {&w, &x});
    auto n4 = make_node(TESSERA_OP_ROPE, &y, {&y, &pos});
    n4.i_params[0] = 36;
    n4.f_params[0] = 10000.0f;
    n4.f_params[1] = 1.0f;
    auto n5 = make_node(TESSERA_OP_SWIGLU, &z, {&y, &y});
    auto n6 = make_node(TESSERA_OP_ADD, &z, {&z, &y});
    auto n7 = make_node(TESSERA_OP_SOFTMAX, &z, {&z});
    n7.f_params[0] = 0.7f;
    auto n8 = make_node(TESSERA_OP_SCALE, &z, {&z});
    n8.f_params[0] = 3.0f;
    auto n9 = make_node(TESSERA_OP_SILU, &z, {&z});
    auto n10 = make_node(TESSERA_OP_COPY, &h, {&z});
    Status s = b.execute({&n0, &n1, &n2, &n3, &n4, &n5, &n6, &n7, &n8, &n9, &n10});
    EXPECT_EQ(s.code, TESSERA_OK) << s.message;
    auto out = b.read<uint8_t>(y);
    auto more = b.read<uint8_t>(h);
    out.insert(out.end(), more.begin(), more.end());
    return out;
  };
  const auto one = run_with(1), three = run_with(3);
  ASSERT_EQ(one.size(), three.size());
  EXPECT_TRUE(one == three) << "results differ between 1 and 3 threads";
}
