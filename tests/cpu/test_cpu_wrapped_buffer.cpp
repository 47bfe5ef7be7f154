// buffer_wrap_host: the caller's host memory (a memory-mapped model file)
// used in place as a read-only buffer. The memory here sits between two
// inaccessible guard pages and is itself read-only, so a kernel that reads a
// byte outside the weights it was given, or writes into them, faults and the
// test dies, as it would at the edges of a real mapped file. Results must be
// bit-identical to the same op on a copy in an ordinary buffer.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "matmul_simd_support.hpp"

using namespace tessera::cpu_test;

namespace {

// `bytes` copied into read-only pages that start (Edge::start) or end
// (Edge::end) exactly at a PROT_NONE guard page.
class GuardedBytes {
 public:
  enum class Edge { start, end };
  GuardedBytes(const std::vector<uint8_t>& bytes, Edge edge) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (bytes.size() + page - 1) / page;
    size_ = (data_pages + 2) * page;
    void* base = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<uint8_t*>(base);
    uint8_t* first = base_ + page;
    data_ = edge == Edge::start ? first : first + data_pages * page - bytes.size();
    std::memcpy(data_, bytes.data(), bytes.size());
    if (mprotect(base_, page, PROT_NONE) != 0 || mprotect(first + data_pages * page, page, PROT_NONE) != 0 ||
        mprotect(first, data_pages * page, PROT_READ) != 0)
      throw std::runtime_error("mprotect failed");
  }
  ~GuardedBytes() { munmap(base_, size_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  const uint8_t* data() const { return data_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

const char* edge_name(GuardedBytes::Edge e) { return e == GuardedBytes::Edge::start ? "start" : "end"; }

struct cpu_wrapped_buffer : ::testing::Test {
  Backend backend{1};
  tessera_error err{};
  std::vector<uint8_t> bytes = std::vector<uint8_t>(1024);  // ends at a page end, 32-byte aligned
  void SetUp() override {
    tessera_error_init(&err);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 1);
  }
};

}  // namespace

TEST_F(cpu_wrapped_buffer, IsTheCallersMemoryAndReadsBack) {
  GuardedBytes host(bytes, GuardedBytes::Edge::end);
  tessera_buffer* b = backend.wrap(host.data(), bytes.size());
  EXPECT_EQ(api().buffer_base(b), host.data());
  std::vector<uint8_t> back(bytes.size());
  ASSERT_EQ(api().buffer_read(b, 0, back.data(), back.size(), &err), TESSERA_OK) << err.message;
  EXPECT_EQ(back, bytes);
  EXPECT_EQ(api().buffer_read(b, 1, back.data(), back.size(), &err), TESSERA_ERR_OUT_OF_RANGE);
}

TEST_F(cpu_wrapped_buffer, WritesAreRefused) {
  GuardedBytes host(bytes, GuardedBytes::Edge::end);  // read-only pages: a write would crash the test
  tessera_buffer* b = backend.wrap(host.data(), bytes.size());
  const uint8_t v = 7;
  EXPECT_EQ(api().buffer_write(b, 0, &v, 1, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err.message).find("read-only"), std::string::npos) << err.message;
  EXPECT_NE(std::string(err.message).find("buffer_write"), std::string::npos) << err.message;
}

TEST_F(cpu_wrapped_buffer, AnOpCannotWriteItsOutputThere) {
  const int64_t k = 8, rows = 4;
  auto table = backend.tensor(TESSERA_DTYPE_F32, {k, rows}, random_floats(k * rows, 3), "token_embd");
  auto ids = backend.tensor(TESSERA_DTYPE_I32, {2}, std::vector<int32_t>{1, 2}, "tokens");
  std::vector<uint8_t> out_bytes(static_cast<size_t>(k * 2) * sizeof(float));
  GuardedBytes host(out_bytes, GuardedBytes::Edge::start);
  tessera_tensor dst = backend.tensor(TESSERA_DTYPE_F32, {k, 2}, nullptr, "embd");
  dst.buffer = backend.wrap(host.data(), out_bytes.size());
  tessera_node node = make_node(TESSERA_OP_GET_ROWS, &dst, {&table, &ids});
  const Status s = backend.execute({&node});
  EXPECT_EQ(s.code, TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("dst 'embd'"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("read-only"), std::string::npos) << s.message;
}

TEST_F(cpu_wrapped_buffer, NullAndMisalignedMemoryAreRefused) {
  GuardedBytes host(bytes, GuardedBytes::Edge::start);  // page-aligned
  tessera_buffer* out = nullptr;
  EXPECT_EQ(api().buffer_wrap_host(backend.get(), nullptr, 16, &out, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
  // Below the 32-byte alignment the kernels are promised: the host copies instead.
  EXPECT_EQ(api().buffer_wrap_host(backend.get(), host.data() + 16, 64, &out, &err), TESSERA_ERR_UNSUPPORTED);
  EXPECT_EQ(out, nullptr);
  EXPECT_NE(std::string(err.message).find("not aligned to 32 bytes"), std::string::npos) << err.message;
  EXPECT_EQ(api().buffer_wrap_host(backend.get(), host.data(), UINT64_MAX, &out, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);
  EXPECT_NE(std::string(err.message).find("exceed the address space"), std::string::npos) << err.message;
  EXPECT_EQ(api().buffer_wrap_host(nullptr, host.data(), 64, &out, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(api().buffer_wrap_host(backend.get(), host.data(), 64, nullptr, &err), TESSERA_ERR_INVALID_ARGUMENT);
}

TEST_F(cpu_wrapped_buffer, FreeingReleasesOnlyTheHandle) {
  // Ordinary heap memory: ASan reports a free() of it, or a later use after one.
  std::unique_ptr<uint8_t, decltype(&std::free)> heap(static_cast<uint8_t*>(std::aligned_alloc(64, bytes.size())),
                                                      &std::free);
  ASSERT_NE(heap, nullptr);
  std::memcpy(heap.get(), bytes.data(), bytes.size());
  tessera_buffer* out = nullptr;
  ASSERT_EQ(api().buffer_wrap_host(backend.get(), heap.get(), bytes.size(), &out, &err), TESSERA_OK) << err.message;
  api().buffer_free(out);
  EXPECT_EQ(std::memcmp(heap.get(), bytes.data(), bytes.size()), 0);
}

// Every weight type, every kernel set, weights at either edge of their pages:
// mat-vec (n = 1), the int8-activation and mat-mat paths (n = 3, 16), and
// the embedding lookup of the first and last rows.
class cpu_wrapped_weights : public ::testing::TestWithParam<int32_t> {};

TEST_P(cpu_wrapped_weights, KernelsReadOnlyTheirBytesAndMatchACopy) {
  const int32_t dtype = GetParam();
  const int64_t k = 256, m = 32;  // 32 rows: any row size gives a 32-byte multiple, so both edges stay aligned
  const auto w = random_weights(dtype, k, m, 11);
  int ran = 0;
  for (const char* kernels : {"scalar", "avx512", "vnni"}) {
    Backend backend(yaml_for(kernels, 2));
    if (backend.create_status().code != TESSERA_OK) continue;  // not on this CPU
    for (GuardedBytes::Edge edge : {GuardedBytes::Edge::start, GuardedBytes::Edge::end}) {
      GuardedBytes host(w, edge);
      tessera_tensor in_place = block_tensor_over(backend.wrap(host.data(), w.size()), dtype, k, m);
      tessera_tensor copy = block_tensor(backend, dtype, k, m, w);
      for (int64_t n : {1, 3, 16}) {
        const auto x = random_floats(static_cast<size_t>(k * n), static_cast<uint32_t>(n));
        auto xt = backend.tensor(TESSERA_DTYPE_F32, {k, n}, x, "activations");
        auto d1 = backend.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "dst");
        auto d2 = backend.tensor(TESSERA_DTYPE_F32, {m, n}, nullptr, "dst");
        tessera_node a = make_node(TESSERA_OP_MUL_MAT, &d1, {&in_place, &xt});
        tessera_node b = make_node(TESSERA_OP_MUL_MAT, &d2, {&copy, &xt});
        const Status s = backend.execute({&a, &b});
        ASSERT_EQ(s.code, TESSERA_OK) << s.message;
        EXPECT_EQ(backend.read<float>(d1), backend.read<float>(d2))
            << dtype_name(dtype) << " kernels " << kernels << " n " << n << " edge " << edge_name(edge);
        ++ran;
      }
      auto ids = backend.tensor(TESSERA_DTYPE_I32, {2}, std::vector<int32_t>{0, static_cast<int32_t>(m - 1)}, "ids");
      auto e1 = backend.tensor(TESSERA_DTYPE_F32, {k, 2}, nullptr, "rows");
      auto e2 = backend.tensor(TESSERA_DTYPE_F32, {k, 2}, nullptr, "rows");
      tessera_node a = make_node(TESSERA_OP_GET_ROWS, &e1, {&in_place, &ids});
      tessera_node b = make_node(TESSERA_OP_GET_ROWS, &e2, {&copy, &ids});
      const Status s = backend.execute({&a, &b});
      ASSERT_EQ(s.code, TESSERA_OK) << s.message;
      EXPECT_EQ(backend.read<float>(e1), backend.read<float>(e2))
          << dtype_name(dtype) << " get_rows, kernels " << kernels << " edge " << edge_name(edge);
    }
  }
  EXPECT_GT(ran, 0);
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, cpu_wrapped_weights, ::testing::ValuesIn(weight_dtypes()),
                         [](const ::testing::TestParamInfo<int32_t>& param_info) { return dtype_name(param_info.param); });
