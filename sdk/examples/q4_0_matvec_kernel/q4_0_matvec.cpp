// q4_0_matvec: a third-party kernel plugin, as an example of the tessera SDK.
//
// It replaces the `cpu` backend's mul_mat for Q4_0 weights (the mat-vec of
// decoding, and the mat-mat of prompt processing) when a pipeline lists it:
//
//   kernels: [ { plugin: q4_0_matvec, backend: cpu, ops: [mul_mat.q4_0] } ]
//
// Q4_0 stores 32 weights per 18-byte block: an f16 scale d and 16 bytes of
// 4-bit codes q (value j in the low nibble of byte j, value j + 16 in the
// high nibble); weight = d * (q - 8). The kernel decodes a block into two
// 16-float registers and multiplies it with the activations in float, so it
// needs no quantized copy of the activations and stays within float
// rounding of the reference.
//
// Mat-vec and short batches (up to 4 columns) decode each block straight
// into registers for every column; longer batches decode a 4-row float panel
// once and run a register-blocked product over all columns.
// Work is split in tiles of 4 weight rows, run on the backend's own worker
// threads (tessera_cpu_context::parallel_for). An AVX-512 path is compiled
// with a target attribute and chosen at run time; other CPUs take the
// portable path. Only <tessera/...> headers of the installed SDK are used.
//
// Validation before shipping: `tessera ab base.yaml with-plugin.yaml
// --fail-kl 0.01` (see README.md). To see the gate fail, set
// Q4_0_MATVEC_FAULT=swap-nibbles: the kernel then decodes the two nibbles of
// each byte the wrong way round (a classic layout bug).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define Q4_0_MATVEC_X86 1
#endif

#include <tessera/cpu/context.h>
#include <tessera/tessera.h>

#include <tessera/cpp/plugin.hpp>
#include <tessera/quant/blocks.hpp>
#include <tessera/quant/half.hpp>

namespace {

using tessera::quant::BlockQ4_0;
using tessera::quant::f16_to_f32;

constexpr int64_t kBlock = 32;
constexpr int64_t kTileRows = 4;
constexpr int64_t kTileColumns = 4;

const tessera_host_api* g_host = nullptr;

struct Kernel {
  bool avx512 = false;
  bool swap_nibbles = false;  // the deliberate fault, for demonstrating the gate
  uint64_t matvec_nodes = 0, matmat_nodes = 0;
};

// One mul_mat node, resolved to raw memory.
struct Job {
  const char* w;  // Q4_0 weights [K, M, B2, B3]
  const char* x;  // F32 activations [K, N, C2, C3]
  char* d;        // F32 output [M, N, C2, C3]
  int64_t K, M, N, B2, B3, C2, C3;
  uint64_t w_nb[4], x_nb[4], d_nb[4];
  int64_t row_tiles;
  const Kernel* kernel;
};

// ---- portable path --------------------------------------------------------

void tile_portable(const Job& job, const char* w, const char* x, char* d, int64_t m0, int64_t rows, bool swap) {
  const int64_t blocks = job.K / kBlock;
  float weights[kBlock];
  for (int64_t r = 0; r < rows; ++r) {
    const auto* row = reinterpret_cast<const BlockQ4_0*>(w + static_cast<uint64_t>(m0 + r) * job.w_nb[1]);
    for (int64_t n = 0; n < job.N; ++n) {
      const auto* col = reinterpret_cast<const float*>(x + static_cast<uint64_t>(n) * job.x_nb[1]);
      float sum = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        const BlockQ4_0& block = row[b];
        for (int j = 0; j < 16; ++j) {
          const int lo = block.qs[j] & 0x0F, hi = block.qs[j] >> 4;
          weights[j] = static_cast<float>((swap ? hi : lo) - 8);
          weights[j + 16] = static_cast<float>((swap ? lo : hi) - 8);
        }
        float partial = 0;
        for (int j = 0; j < kBlock; ++j) partial += weights[j] * col[b * kBlock + j];
        sum += f16_to_f32(block.d) * partial;
      }
      *reinterpret_cast<float*>(d + static_cast<uint64_t>(m0 + r) * job.d_nb[0] +
                                static_cast<uint64_t>(n) * job.d_nb[1]) = sum;
    }
  }
}

// ---- AVX-512 path -----------------------------------------------------------

#ifdef Q4_0_MATVEC_X86
#define Q4_0_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
// GCC 12's intrinsic headers start some conversions from a self-initialised
// "undefined" register, which -Wuninitialized reports once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The 32 codes of a block minus 8, as two registers of 16 floats each
// (values 0..15 and 16..31), not yet scaled by d.
Q4_0_AVX512 inline void decode(const BlockQ4_0& block, __m512& lo, __m512& hi) {
  const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block.qs)));
  const __m512i eight = _mm512_set1_epi32(8);
  lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(bytes, _mm512_set1_epi32(0x0F)), eight));
  hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bytes, 4), eight));
}

Q4_0_AVX512 inline float scale(const BlockQ4_0& block) { return _cvtsh_ss(block.d); }

// NR rows x NC columns; each block is decoded once and used for all NC
// columns. Per block the 32 products are summed first and scaled by d
// once (d * sum(q * x)), as the format defines the weight.
template <int NR, int NC>
Q4_0_AVX512 void tile_avx512(const Job& job, const char* w, const char* x, char* d, int64_t m0, int64_t n0) {
  const int64_t blocks = job.K / kBlock;
  const BlockQ4_0* rows[NR];
  const float* cols[NC];
  for (int r = 0; r < NR; ++r)
    rows[r] = reinterpret_cast<const BlockQ4_0*>(w + static_cast<uint64_t>(m0 + r) * job.w_nb[1]);
  for (int c = 0; c < NC; ++c)
    cols[c] = reinterpret_cast<const float*>(x + static_cast<uint64_t>(n0 + c) * job.x_nb[1]);
  __m512 acc[NR][NC];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 lo[NR], hi[NR], ds[NR];
    for (int r = 0; r < NR; ++r) {
      decode(rows[r][b], lo[r], hi[r]);
      ds[r] = _mm512_set1_ps(scale(rows[r][b]));
    }
    for (int c = 0; c < NC; ++c) {
      const __m512 x_lo = _mm512_loadu_ps(cols[c] + b * kBlock);
      const __m512 x_hi = _mm512_loadu_ps(cols[c] + b * kBlock + 16);
      for (int r = 0; r < NR; ++r)
        acc[r][c] = _mm512_fmadd_ps(_mm512_fmadd_ps(lo[r], x_lo, _mm512_mul_ps(hi[r], x_hi)), ds[r], acc[r][c]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c)
      *reinterpret_cast<float*>(d + static_cast<uint64_t>(m0 + r) * job.d_nb[0] +
                                static_cast<uint64_t>(n0 + c) * job.d_nb[1]) = _mm512_reduce_add_ps(acc[r][c]);
}

// Prompt processing (many columns): the NR rows are decoded once into a
// float panel (d * (q - 8), as the format defines each weight), then a
// register-blocked NR x 4 product runs over every column, so the decode is
// paid once per row instead of once per 4 columns.
template <int NR>
Q4_0_AVX512 void panel_avx512(const Job& job, const char* w, const char* x, char* d, int64_t m0) {
  const int64_t K = job.K, blocks = K / kBlock;
  thread_local std::vector<float> storage;
  storage.resize(static_cast<std::size_t>(NR * K));
  float* panel = storage.data();
  for (int r = 0; r < NR; ++r) {
    const auto* row = reinterpret_cast<const BlockQ4_0*>(w + static_cast<uint64_t>(m0 + r) * job.w_nb[1]);
    for (int64_t b = 0; b < blocks; ++b) {
      __m512 lo, hi;
      decode(row[b], lo, hi);
      const __m512 ds = _mm512_set1_ps(scale(row[b]));
      _mm512_storeu_ps(panel + r * K + b * kBlock, _mm512_mul_ps(lo, ds));
      _mm512_storeu_ps(panel + r * K + b * kBlock + 16, _mm512_mul_ps(hi, ds));
    }
  }
  for (int64_t n0 = 0; n0 < job.N; n0 += kTileColumns) {
    const int64_t nc = std::min(kTileColumns, job.N - n0);
    const float* cols[kTileColumns];
    for (int64_t c = 0; c < kTileColumns; ++c)  // a short last tile repeats its last column
      cols[c] = reinterpret_cast<const float*>(x + static_cast<uint64_t>(n0 + std::min(c, nc - 1)) * job.x_nb[1]);
    __m512 acc[NR][kTileColumns];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < kTileColumns; ++c) acc[r][c] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 16) {
      __m512 wr[NR];
      for (int r = 0; r < NR; ++r) wr[r] = _mm512_loadu_ps(panel + r * K + k);
      for (int c = 0; c < kTileColumns; ++c) {
        const __m512 xc = _mm512_loadu_ps(cols[c] + k);
        for (int r = 0; r < NR; ++r) acc[r][c] = _mm512_fmadd_ps(wr[r], xc, acc[r][c]);
      }
    }
    for (int r = 0; r < NR; ++r)
      for (int64_t c = 0; c < nc; ++c)
        *reinterpret_cast<float*>(d + static_cast<uint64_t>(m0 + r) * job.d_nb[0] +
                                  static_cast<uint64_t>(n0 + c) * job.d_nb[1]) = _mm512_reduce_add_ps(acc[r][c]);
  }
}

template <int NR>
Q4_0_AVX512 void rows_avx512(const Job& job, const char* w, const char* x, char* d, int64_t m0) {
  if (job.N > kTileColumns) {
    panel_avx512<NR>(job, w, x, d, m0);
    return;
  }
  int64_t n = 0;
  for (; n + kTileColumns <= job.N; n += kTileColumns) tile_avx512<NR, kTileColumns>(job, w, x, d, m0, n);
  switch (job.N - n) {
    case 3:
      tile_avx512<NR, 3>(job, w, x, d, m0, n);
      break;
    case 2:
      tile_avx512<NR, 2>(job, w, x, d, m0, n);
      break;
    case 1:
      tile_avx512<NR, 1>(job, w, x, d, m0, n);
      break;
    default:
      break;
  }
}

void tile_avx512_any(const Job& job, const char* w, const char* x, char* d, int64_t m0, int64_t rows) {
  switch (rows) {
    case 4:
      rows_avx512<4>(job, w, x, d, m0);
      break;
    case 3:
      rows_avx512<3>(job, w, x, d, m0);
      break;
    case 2:
      rows_avx512<2>(job, w, x, d, m0);
      break;
    default:
      rows_avx512<1>(job, w, x, d, m0);
      break;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
bool cpu_has_avx512() { return false; }
#endif

// Tasks are (batch, row tile) pairs, batch-major.
void run_tasks(void* user, int64_t begin, int64_t end, int /*thread*/) {
  const Job& job = *static_cast<const Job*>(user);
  for (int64_t task = begin; task < end; ++task) {
    const int64_t batch = task / job.row_tiles;
    const int64_t c2 = batch % job.C2, c3 = batch / job.C2;
    // GQA-style broadcast: C2 / B2 activation batches share one weight batch.
    const int64_t b2 = c2 / (job.C2 / job.B2), b3 = c3 / (job.C3 / job.B3);
    const char* w = job.w + static_cast<uint64_t>(b2) * job.w_nb[2] + static_cast<uint64_t>(b3) * job.w_nb[3];
    const char* x = job.x + static_cast<uint64_t>(c2) * job.x_nb[2] + static_cast<uint64_t>(c3) * job.x_nb[3];
    char* d = job.d + static_cast<uint64_t>(c2) * job.d_nb[2] + static_cast<uint64_t>(c3) * job.d_nb[3];
    const int64_t m0 = (task % job.row_tiles) * kTileRows;
    const int64_t rows = std::min(kTileRows, job.M - m0);
#ifdef Q4_0_MATVEC_X86
    if (job.kernel->avx512 && !job.kernel->swap_nibbles) {
      tile_avx512_any(job, w, x, d, m0, rows);
      continue;
    }
#endif
    tile_portable(job, w, x, d, m0, rows, job.kernel->swap_nibbles);
  }
}

const char* base(const tessera_execution_context* ctx, const tessera_tensor* t) {
  return static_cast<const char*>(ctx->compute->buffer_base(t->buffer)) + t->offset;
}

// ---- the C entry points -----------------------------------------------------

tessera_status initialize(const tessera_host_api* host, void** state, tessera_error*) {
  g_host = host;
  *state = nullptr;
  return TESSERA_OK;
}

void shutdown(void*) { g_host = nullptr; }

tessera_status create(void*, const tessera_config*, tessera_kernel** out, tessera_error* err) {
  return tessera::sdk::guarded(err, [&] {
    auto* kernel = new Kernel();
    // Q4_0_MATVEC_PORTABLE=1 tests the portable path on an AVX-512 machine.
    const char* portable = std::getenv("Q4_0_MATVEC_PORTABLE");
    kernel->avx512 = cpu_has_avx512() && !(portable != nullptr && std::strcmp(portable, "1") == 0);
    if (const char* fault = std::getenv("Q4_0_MATVEC_FAULT"); fault != nullptr && *fault != '\0') {
      if (std::strcmp(fault, "swap-nibbles") != 0) {
        delete kernel;
        throw tessera::sdk::Error(TESSERA_ERR_INVALID_ARGUMENT,
                                  std::string("Q4_0_MATVEC_FAULT='") + fault + "': expected swap-nibbles or unset");
      }
      kernel->swap_nibbles = true;
      tessera::sdk::Log(g_host, "q4_0_matvec")
          .warn("Q4_0_MATVEC_FAULT=swap-nibbles: computing WRONG results on purpose");
    }
    tessera::sdk::Log(g_host, "q4_0_matvec")
        .debug(kernel->avx512 ? "using the AVX-512 path" : "using the portable path");
    *out = reinterpret_cast<tessera_kernel*>(kernel);
  });
}

void destroy(tessera_kernel* handle) {
  auto* kernel = reinterpret_cast<Kernel*>(handle);
  tessera::sdk::Log(g_host, "q4_0_matvec")
      .info("ran " + std::to_string(kernel->matvec_nodes) + " mat-vec and " + std::to_string(kernel->matmat_nodes) +
            " mat-mat nodes (" + (kernel->avx512 && !kernel->swap_nibbles ? "AVX-512" : "portable") + " path)");
  delete kernel;
}

tessera_status execute(tessera_kernel* handle, const tessera_node* node, const tessera_execution_context* ctx,
                       tessera_error* err) {
  auto* kernel = reinterpret_cast<Kernel*>(handle);
  const tessera_tensor* w = node->src[0];
  const tessera_tensor* x = node->src[1];
  const tessera_tensor* d = node->dst;
  if (node->op != TESSERA_OP_MUL_MAT || w == nullptr || x == nullptr || d == nullptr)
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT, "q4_0_matvec: expected a mul_mat node with 2 sources");
  if (w->dtype != TESSERA_DTYPE_Q4_0 || x->dtype != TESSERA_DTYPE_F32 || d->dtype != TESSERA_DTYPE_F32)
    return tessera_error_set(
        err, TESSERA_ERR_INVALID_ARGUMENT,
        "q4_0_matvec: expected Q4_0 weights, F32 activations and F32 output (got dtypes %d, %d, %d)", w->dtype,
        x->dtype, d->dtype);
  const int64_t K = w->ne[0];
  if (K % kBlock != 0 || w->nb[0] != sizeof(BlockQ4_0))
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT,
                             "q4_0_matvec: weight rows of %lld values are not whole 32-value blocks",
                             static_cast<long long>(K));
  if (x->ne[0] != K || d->ne[0] != w->ne[1] || d->ne[1] != x->ne[1] || d->ne[2] != x->ne[2] || d->ne[3] != x->ne[3] ||
      w->ne[2] <= 0 || w->ne[3] <= 0 || x->ne[2] % w->ne[2] != 0 || x->ne[3] % w->ne[3] != 0)
    return tessera_error_set(
        err, TESSERA_ERR_INVALID_ARGUMENT,
        "q4_0_matvec: shapes do not match: weights [%lld, %lld, %lld, %lld], activations "
        "[%lld, %lld, %lld, %lld], output [%lld, %lld, %lld, %lld]",
        static_cast<long long>(w->ne[0]), static_cast<long long>(w->ne[1]), static_cast<long long>(w->ne[2]),
        static_cast<long long>(w->ne[3]), static_cast<long long>(x->ne[0]), static_cast<long long>(x->ne[1]),
        static_cast<long long>(x->ne[2]), static_cast<long long>(x->ne[3]), static_cast<long long>(d->ne[0]),
        static_cast<long long>(d->ne[1]), static_cast<long long>(d->ne[2]), static_cast<long long>(d->ne[3]));
  if (x->nb[0] != sizeof(float) || d->nb[0] != sizeof(float))
    return tessera_error_set(err, TESSERA_ERR_INVALID_ARGUMENT,
                             "q4_0_matvec: activation and output rows must be contiguous floats");

  Job job{};
  job.w = base(ctx, w);
  job.x = base(ctx, x);
  job.d = const_cast<char*>(base(ctx, d));
  job.K = K, job.M = w->ne[1], job.N = x->ne[1];
  job.B2 = w->ne[2], job.B3 = w->ne[3], job.C2 = x->ne[2], job.C3 = x->ne[3];
  std::memcpy(job.w_nb, w->nb, sizeof job.w_nb);
  std::memcpy(job.x_nb, x->nb, sizeof job.x_nb);
  std::memcpy(job.d_nb, d->nb, sizeof job.d_nb);
  job.row_tiles = (job.M + kTileRows - 1) / kTileRows;
  job.kernel = kernel;
  const int64_t tasks = job.row_tiles * job.C2 * job.C3;

  // The backend's workers when it is the cpu plugin's context (checked by
  // size: a context without parallel_for is run inline).
  const auto* cpu = static_cast<const tessera_cpu_context*>(ctx->native);
  if (cpu != nullptr && cpu->struct_size >= sizeof(tessera_cpu_context) && cpu->parallel_for != nullptr)
    cpu->parallel_for(cpu, tasks, run_tasks, &job);
  else
    run_tasks(&job, 0, tasks, 0);
  (job.N == 1 ? kernel->matvec_nodes : kernel->matmat_nodes)++;
  return TESSERA_OK;
}

const tessera_kernel_op kMulMatQ4_0 = {sizeof(tessera_kernel_op), TESSERA_OP_MUL_MAT, TESSERA_DTYPE_Q4_0};
const tessera_kernel_op* const kOps[] = {&kMulMatQ4_0};
const tessera_kernel_interface kKernel = {sizeof(tessera_kernel_interface), "cpu", 1, kOps, create, destroy, execute};
const tessera_plugin_descriptor kDescriptor = {sizeof(tessera_plugin_descriptor),
                                               TESSERA_ABI_VERSION_MAJOR,
                                               TESSERA_ABI_VERSION_MINOR,
                                               TESSERA_KIND_KERNEL,
                                               "q4_0_matvec",
                                               "1.0.0",
                                               "example kernel: Q4_0 mul_mat for the cpu backend (AVX-512 or portable)",
                                               0,
                                               nullptr,
                                               initialize,
                                               shutdown,
                                               nullptr,
                                               nullptr,
                                               nullptr,
                                               &kKernel,
                                               "tessera SDK example",
                                               "Apache-2.0"};

}  // namespace

extern "C" TESSERA_PLUGIN_EXPORT const tessera_plugin_descriptor* tessera_plugin_init(void) { return &kDescriptor; }
