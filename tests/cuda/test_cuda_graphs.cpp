// CUDA graph replay: a decode step (RoPE on the query, K/V copied into the
// cache slot of the current position, attention over the cache) executed
// for several positions on a backend with cuda_graphs on (steps 2+ are
// captured and replayed, the KV slot and attention positions changing every
// step), on one with cuda_graphs off and on one that waits after every
// kernel. Replay must equal eager bit for bit, and all must match the cpu
// plugin.
#include "cuda_test_support.hpp"

namespace tessera::cuda_test {
namespace {

struct DecodeStep {
  static constexpr int64_t kD = 64, kHeads = 4, kKvHeads = 2, kCtx = 300;
  Backend backend;
  int32_t kv_dtype;
  tessera_tensor q, q_rope, k_new, v_new, pos, k_cache, v_cache, k_slot, v_slot, out;
  tessera_node rope{}, copy_k{}, copy_v{}, attention{};

  DecodeStep(const std::string& plugin_name, const std::string& yaml, int32_t dtype)
      : backend(plugin_name, yaml), kv_dtype(dtype) {
    q = backend.tensor(TESSERA_DTYPE_F32, {kD, kHeads, 1}, nullptr, "q");
    q_rope = backend.tensor(TESSERA_DTYPE_F32, {kD, kHeads, 1}, nullptr, "q_rope");
    k_new = backend.tensor(TESSERA_DTYPE_F32, {kD * kKvHeads, 1}, nullptr, "k_new");
    v_new = backend.tensor(TESSERA_DTYPE_F32, {kD * kKvHeads, 1}, nullptr, "v_new");
    pos = backend.tensor(TESSERA_DTYPE_I32, {1}, nullptr, "positions");
    std::vector<uint8_t> zeros(bytes_of(dtype, {kD, kKvHeads, kCtx}), 0);
    k_cache = backend.tensor(dtype, {kD, kKvHeads, kCtx}, zeros.data(), "k_cache");
    v_cache = backend.tensor(dtype, {kD, kKvHeads, kCtx}, zeros.data(), "v_cache");
    out = backend.tensor(TESSERA_DTYPE_F32, {kD, kHeads, 1}, nullptr, "attn");
    k_slot = k_cache;  // a [kD * kKvHeads, 1] view at the current position
    k_slot.n_dims = 2;
    k_slot.ne[0] = kD * kKvHeads;
    k_slot.ne[1] = k_slot.ne[2] = k_slot.ne[3] = 1;
    k_slot.nb[2] = k_slot.nb[3] = k_slot.nb[1];
    v_slot = k_slot;
    v_slot.buffer = v_cache.buffer;
    rope = make_node(TESSERA_OP_ROPE, &q_rope, {&q, &pos});
    rope.i_params[0] = kD;
    rope.f_params[0] = 10000.0f;
    rope.f_params[1] = 1.0f;
    copy_k = make_node(TESSERA_OP_COPY, &k_slot, {&k_new});
    copy_v = make_node(TESSERA_OP_COPY, &v_slot, {&v_new});
    attention = make_node(TESSERA_OP_ATTENTION, &out, {&q_rope, &k_cache, &v_cache});
    attention.f_params[0] = 0.125f;
  }

  std::vector<float> run(int32_t position, uint32_t seed) {
    const auto qv = random_floats(kD * kHeads, seed), kv = random_floats(kD * kKvHeads, seed + 1),
               vv = random_floats(kD * kKvHeads, seed + 2);
    backend.write(q, 0, qv.data(), qv.size() * 4);
    backend.write(k_new, 0, kv.data(), kv.size() * 4);
    backend.write(v_new, 0, vv.data(), vv.size() * 4);
    backend.write(pos, 0, &position, 4);
    const uint64_t row = bytes_of(kv_dtype, {kD * kKvHeads});
    k_slot.offset = v_slot.offset = static_cast<uint64_t>(position) * row;
    attention.i_params[0] = position;
    attention.i_params[1] = position + 1;
    const auto [status, message] = backend.execute({&rope, &copy_k, &copy_v, &attention});
    if (status != TESSERA_OK) throw std::runtime_error(message);
    return backend.read_floats(out);
  }
};

class GraphReplay : public ::testing::TestWithParam<int32_t> {};

TEST_P(GraphReplay, EqualsEagerAndCpuAcrossPositions) {
  TESSERA_REQUIRE_CUDA();
  const int32_t dtype = GetParam();
  DecodeStep graphs("cuda", kCuda, dtype), eager("cuda", kCudaEager, dtype),
      synced("cuda", "{backend: cuda, sync_every_op: true}", dtype);
  // The cpu reference keeps an F16 cache where the GPU keeps Q8_0 (the cpu
  // plugin need not quantize), so only F32/F16 are compared with it.
  const bool with_cpu = dtype != TESSERA_DTYPE_Q8_0;
  std::unique_ptr<DecodeStep> cpu;
  if (with_cpu) cpu = std::make_unique<DecodeStep>("cpu", kCpu, dtype);
  for (int32_t step = 0; step < 12; ++step) {
    const int32_t position = step * 7 % DecodeStep::kCtx;  // not in order: the slot moves arbitrarily
    const std::vector<float> a = graphs.run(position, 1000 + static_cast<uint32_t>(step));
    const std::vector<float> b = eager.run(position, 1000 + static_cast<uint32_t>(step));
    EXPECT_EQ(a, b) << "step " << step << ": CUDA graph replay differs from eager execution";
    EXPECT_EQ(synced.run(position, 1000 + static_cast<uint32_t>(step)), b) << "step " << step << ": sync_every_op";
    if (with_cpu) {
      const std::vector<float> c = cpu->run(position, 1000 + static_cast<uint32_t>(step));
      EXPECT_LE(relative_error(a, c), 1e-4) << "step " << step;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(kv_types, GraphReplay,
                         ::testing::Values(TESSERA_DTYPE_F32, TESSERA_DTYPE_F16, TESSERA_DTYPE_Q8_0),
                         [](const ::testing::TestParamInfo<int32_t>& p) {
                           return std::string(tessera_dtype_info(p.param).name);
                         });

}  // namespace
}  // namespace tessera::cuda_test
