// The int8 mat-vec driver (N <= kFusedMaxN) of the VNNI kernels for
// row-major block types, and the task split and output stores of their
// prefill panels: the 32-value block types (matmul_avx512_vnni.cpp) and the K-quants
// (matmul_avx512_vnni_kquant.cpp). Include only from files compiled with the
// AVX-512 and VNNI flags; everything here has internal linkage.
//
// A kernel K provides:
//   K::Activations   one call's quantized activation columns: `blocks`
//                    (activation blocks per column) and column(u) -> K::Column,
//                    u = (c3 * c2 + c2 index) * n + column; a Column's `q`
//                    points at its codes (the same pointer = the same column);
//   K::rows<RN, RR>(w, x, blocks, out)   RR weight rows (w[r]) times RN
//                    columns (x[c]) into out[r][c], in an order fixed by
//                    the row alone (never by the thread split).
#pragma once

#include "avx512_matmul.hpp"

namespace tessera::cpu::avx512 {
namespace {

template <class Activations>
struct Int8MatVec {
  const MatMulJob* job;
  Activations act;
  Geometry geo;
};

template <class K, int RN, int RR>
inline void int_group(const MatMulJob& j, const Task& t, int64_t first, const typename K::Column* x, int64_t blocks) {
  const std::byte* w[RR];
  for (int r = 0; r < RR; ++r) w[r] = t.w0 + static_cast<uint64_t>(first + r) * t.w_stride;
  float out[RR][RN];
  K::template rows<RN, RR>(w, x, blocks, out);
  for (int r = 0; r < RR; ++r)
    for (int c = 0; c < RN; ++c) *dst_at(j, t, t.m0 + first + r, c) = out[r][c];
}

template <class K, int RN, int RR>
inline void int_task(const Int8MatVec<typename K::Activations>& jb, const Task& t) {
  const MatMulJob& j = *jb.job;
  typename K::Column x[RN];
  const int64_t first_column = (t.c3 * j.c2 + t.c2) * j.n;
  for (int c = 0; c < RN; ++c) x[c] = jb.act.column(first_column + c);
  int64_t r = 0;
  for (; r + RR <= t.rows; r += RR) int_group<K, RN, RR>(j, t, r, x, jb.act.blocks);
  for (; r < t.rows; ++r) int_group<K, RN, 1>(j, t, r, x, jb.act.blocks);
}

// N = 1: the thread's range cut into S parts read side by side (row r of
// task begin + i * part + t for every part i), so that each thread keeps S
// independent weight streams in flight, each prefetched on into its next
// rows. Measured on the 7B Q4_0 decode, 2 threads, interleaved runs: 1
// stream 4.3-5.5 tokens/s, 2 streams 4.9-5.9, 4 streams 5.8-6.0, 8 no better.
constexpr int kWeightStreams = 4;

template <class K, int S>
void int_streams(const Int8MatVec<typename K::Activations>& jb, int64_t begin, int64_t end) {
  const MatMulJob& j = *jb.job;
  const int64_t part = (end - begin) / S;
  for (int64_t t = 0; t < part; ++t) {
    Task task[S];
    typename K::Column x[S];
    bool same = true;
    for (int i = 0; i < S; ++i) {
      task[i] = task_of(jb.geo, begin + i * part + t);
      x[i] = jb.act.column(task[i].c3 * j.c2 + task[i].c2);
      same = same && x[i].q == x[0].q && task[i].rows == task[0].rows;
    }
    if (!same) {  // parts in different activation batches, or a short last task
      for (int i = 0; i < S; ++i) int_task<K, 1, 1>(jb, task[i]);
      continue;
    }
    for (int64_t r = 0; r < task[0].rows; ++r) {
      const std::byte* w[S];
      for (int i = 0; i < S; ++i) w[i] = task[i].w0 + static_cast<uint64_t>(r) * task[i].w_stride;
      float out[S][1];
      K::template rows<1, S>(w, x, jb.act.blocks, out);
      for (int i = 0; i < S; ++i) *dst_at(j, task[i], task[i].m0 + r, 0) = out[i][0];
    }
  }
  for (int64_t i = begin + S * part; i < end; ++i) int_task<K, 1, 1>(jb, task_of(jb.geo, i));
}

// ThreadPool::parallel_for body over the tasks; `user` is the Int8MatVec.
template <class K>
void int_range(void* user, int64_t begin, int64_t end, int) {
  const auto& jb = *static_cast<const Int8MatVec<typename K::Activations>*>(user);
  if (jb.job->n == 1) {
    int_streams<K, kWeightStreams>(jb, begin, end);
    return;
  }
  for (int64_t i = begin; i < end; ++i) {
    const Task t = task_of(jb.geo, i);
    switch (jb.job->n) {
      case 2: int_task<K, 2, 2>(jb, t); break;
      case 3: int_task<K, 3, 1>(jb, t); break;
      default: int_task<K, 4, 1>(jb, t); break;
    }
  }
}

// ---- prefill panels (N > kFusedMaxN) ----
// Each zmm lane is one activation column (kPanelLanes per column group);
// a task is kPanelRows weight rows of one activation batch, decoded once and
// run against every column group of the batch.
constexpr int kPanelRows = 8;    // weight rows per task (8 int + 8 float accumulators)
constexpr int kPanelLanes = 16;  // activation columns per vector

struct PanelTask {
  int64_t m0, rows;  // first weight row, rows (<= kPanelRows; the rest is padding)
  int64_t c2, c3, batch;
  const std::byte* w0;  // row m0 of the batch's weights
};

inline PanelTask panel_task(const MatMulJob& j, int64_t row_groups, int64_t t) {
  PanelTask p;
  const int64_t rg = t % row_groups;
  p.batch = t / row_groups;
  p.c2 = p.batch % j.c2;
  p.c3 = p.batch / j.c2;
  p.m0 = rg * kPanelRows;
  p.rows = j.m - p.m0 < kPanelRows ? j.m - p.m0 : kPanelRows;
  p.w0 = j.w + static_cast<uint64_t>(p.m0) * j.w_nb1 + static_cast<uint64_t>(p.c2 / j.r2) * j.w_nb2 +
         static_cast<uint64_t>(p.c3 / j.r3) * j.w_nb3;
  return p;
}

// out[r] lane c -> dst row m0 + r, column 16 g + c (real rows and columns only).
inline void store_panel(const MatMulJob& j, const PanelTask& p, int64_t g, const __m512 (&out)[kPanelRows]) {
  alignas(64) float lanes[kPanelLanes];
  const int64_t cols = j.n - g * kPanelLanes < kPanelLanes ? j.n - g * kPanelLanes : kPanelLanes;
  for (int64_t r = 0; r < p.rows; ++r) {
    _mm512_store_ps(lanes, out[r]);
    for (int64_t c = 0; c < cols; ++c)
      *reinterpret_cast<float*>(j.dst + static_cast<uint64_t>(p.m0 + r) * j.d_nb0 +
                                static_cast<uint64_t>(g * kPanelLanes + c) * j.d_nb1 +
                                static_cast<uint64_t>(p.c2) * j.d_nb2 + static_cast<uint64_t>(p.c3) * j.d_nb3) = lanes[c];
  }
}

// Activation column `u` = (c3 * c2 + c2 index) * n + column of the job.
inline const float* activation_column(const MatMulJob& j, int64_t u) {
  const int64_t col = u % j.n, batch = u / j.n;
  return reinterpret_cast<const float*>(j.x + static_cast<uint64_t>(col) * j.x_nb1 +
                                        static_cast<uint64_t>(batch % j.c2) * j.x_nb2 +
                                        static_cast<uint64_t>(batch / j.c2) * j.x_nb3);
}

// Where activation column `u` sits in packed panels: its column group
// (`groups` per batch, batch-major) and its lane in that group.
struct PanelSlot {
  uint64_t group;
  int lane;
};

inline PanelSlot panel_slot(const MatMulJob& j, int64_t groups, int64_t u) {
  const int64_t col = u % j.n, batch = u / j.n;
  return {static_cast<uint64_t>(batch * groups + col / kPanelLanes), static_cast<int>(col % kPanelLanes)};
}

// `count` signed codes into one column's lane of a panel (`lane_codes`
// points at its first 4 bytes): every 4 consecutive codes share a 64-byte
// row with the other 15 columns, each stored + 128 so vpdpbusd reads it as
// its unsigned operand.
inline void store_panel_codes(const int8_t* q, int64_t count, uint8_t* lane_codes) {
  for (int64_t i = 0; i < count; i += 4) {
    uint32_t word;
    __builtin_memcpy(&word, q + i, 4);
    word ^= 0x80808080u;  // two's complement code + 128, per byte
    __builtin_memcpy(lane_codes + i * kPanelLanes, &word, 4);
  }
}

}  // namespace
}  // namespace tessera::cpu::avx512
