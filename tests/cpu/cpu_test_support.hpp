// Helpers for the cpu plugin tests: load the plugin through the core the way
// the product does, create backends from YAML, place tensors, run one-node
// graphs, and read results back. The reference math lives in the tests.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tessera/core/config_tree.hpp"
#include "tessera/cpu/context.h"
#include "tessera/tessera.h"
#include "plugin_test_support.hpp"
#include "relative_error.hpp"

namespace tessera::cpu_test {

inline Plugin& cpu_plugin() { return test::build_plugin("cpu"); }

inline const tessera_compute_interface& api() { return *cpu_plugin().compute(); }
inline void* state() { return cpu_plugin().state(); }

struct Status {
  tessera_status code = TESSERA_OK;
  std::string message;
};

// One backend created from a YAML compute entry, freed on destruction.
class Backend : public test::BackendBuffers {
 public:
  explicit Backend(int threads) : Backend("{backend: cpu, threads: " + std::to_string(threads) + "}") {}
  explicit Backend(const std::string& yaml) : BackendBuffers(cpu_test::api()) {
    ConfigTree tree(YAML::Load(yaml), "test.yaml", "compute[0]");
    tessera_error err;
    tessera_error_init(&err);
    status_.code = api().backend_create(state(), 0, tree.root(), &backend_, &err);
    status_.message = err.message;
  }

  const Status& create_status() const { return status_; }

  // A contiguous tensor in its own buffer, holding `bytes` of data.
  tessera_tensor tensor(int32_t dtype, std::vector<int64_t> ne, const void* data, const char* name) {
    tessera_tensor t{};
    t.struct_size = sizeof t;
    t.dtype = dtype;
    t.n_dims = static_cast<uint32_t>(ne.size());
    const uint64_t esize = tessera_dtype_info(dtype).block_bytes;
    uint64_t stride = esize;
    for (int i = 0; i < 4; ++i) {
      t.ne[i] = i < static_cast<int>(ne.size()) ? ne[i] : 1;
      t.nb[i] = stride;
      stride *= static_cast<uint64_t>(t.ne[i]);
    }
    t.buffer = alloc(stride);
    t.offset = 0;
    t.name = name;
    if (data != nullptr) write(t, data, stride);
    return t;
  }
  template <class T>
  tessera_tensor tensor(int32_t dtype, std::vector<int64_t> ne, const std::vector<T>& data, const char* name) {
    tessera_tensor t = tensor(dtype, std::move(ne), nullptr, name);
    EXPECT_EQ(bytes_of(t), data.size() * sizeof(T)) << name;
    write(t, data.data(), data.size() * sizeof(T));
    return t;
  }

  static uint64_t bytes_of(const tessera_tensor& t) {
    const tessera_dtype_traits traits = tessera_dtype_info(t.dtype);
    uint64_t n = traits.block_bytes * (static_cast<uint64_t>(t.ne[0]) / traits.block_elements);
    for (int i = 1; i < 4; ++i) n *= static_cast<uint64_t>(t.ne[i]);
    return n;
  }

  void write(const tessera_tensor& t, const void* data, uint64_t bytes) {
    tessera_error err;
    tessera_error_init(&err);
    if (api().buffer_write(t.buffer, t.offset, data, bytes, &err) != TESSERA_OK) throw std::runtime_error(err.message);
  }

  template <class T>
  std::vector<T> read(const tessera_tensor& t) {
    std::vector<T> out(bytes_of(t) / sizeof(T));
    tessera_error err;
    tessera_error_init(&err);
    if (api().buffer_read(t.buffer, t.offset, out.data(), out.size() * sizeof(T), &err) != TESSERA_OK)
      throw std::runtime_error(err.message);
    return out;
  }

  Status execute(const std::vector<tessera_node*>& nodes) {
    tessera_graph g{sizeof(tessera_graph), nodes.size(), nodes.data()};
    tessera_error err;
    tessera_error_init(&err);
    Status s;
    s.code = api().graph_execute(backend_, &g, &err);
    s.message = err.message;
    return s;
  }

 private:
  Status status_;
};

using test::make_node;
using test::random_floats;
using test::relative_error;

// Random finite halves in roughly [-2, 2], built from bits so the test does
// not depend on any float -> half converter.
inline std::vector<uint16_t> random_halves(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(n);
  for (auto& h : v) {
    const uint32_t sign = rng() & 1u, exponent = 8u + rng() % 8u, mantissa = rng() & 0x3FFu;  // 2^-7 .. 2^0.99
    h = static_cast<uint16_t>((sign << 15) | (exponent << 10) | mantissa);
  }
  return v;
}

// IEEE half -> double from the definition (test-local, independent of the plugin).
inline double half_value(uint16_t h) {
  const double sign = (h >> 15) ? -1.0 : 1.0;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(static_cast<double>(mantissa), -24);
  if (exponent == 31)
    return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(static_cast<double>(1024 + mantissa), exponent - 25);
}

// A [k x rows] tensor of a block type over `buffer` at offset 0.
inline tessera_tensor block_tensor_over(tessera_buffer* buffer, int32_t dtype, int64_t k, int64_t rows) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  tessera_tensor tensor{};
  tensor.struct_size = sizeof tensor;
  tensor.dtype = dtype;
  tensor.n_dims = 2;
  tensor.ne[0] = k;
  tensor.ne[1] = rows;
  tensor.ne[2] = tensor.ne[3] = 1;
  tensor.nb[0] = t.block_bytes;
  tensor.nb[1] = static_cast<uint64_t>(k) / t.block_elements * t.block_bytes;
  tensor.nb[2] = tensor.nb[3] = tensor.nb[1] * static_cast<uint64_t>(rows);
  tensor.buffer = buffer;
  tensor.name = "quantized_weights";
  return tensor;
}

// A [k x rows] tensor of a block type, written from quantized bytes.
inline tessera_tensor block_tensor(Backend& b, int32_t dtype, int64_t k, int64_t rows,
                                   const std::vector<uint8_t>& bytes) {
  tessera_tensor tensor = block_tensor_over(b.alloc(bytes.size()), dtype, k, rows);
  b.write(tensor, bytes.data(), bytes.size());
  return tensor;
}

// An ATTENTION node: dst = attention(q, k, v) over cache positions
// [0, valid), the queries starting at position `first`.
inline tessera_node attention_node(tessera_tensor* dst, tessera_tensor* q, tessera_tensor* k, tessera_tensor* v,
                                   int64_t first, int64_t valid, float scale) {
  tessera_node node{};
  node.struct_size = sizeof node;
  node.op = TESSERA_OP_ATTENTION;
  node.dst = dst;
  node.src[0] = q;
  node.src[1] = k;
  node.src[2] = v;
  node.i_params[0] = static_cast<int32_t>(first);
  node.i_params[1] = static_cast<int32_t>(valid);
  node.f_params[0] = scale;
  return node;
}

}  // namespace tessera::cpu_test
