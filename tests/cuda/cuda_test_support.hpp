// Helpers for the cuda plugin tests: load the cuda and cpu plugins through
// the core the way the product does, run one graph on either with the same
// inputs, and compare. Every GPU test starts with TESSERA_REQUIRE_CUDA(),
// which skips with the CUDA runtime's reason where there is no device.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "gpu_expected.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/core/config_tree.hpp"
#include "tessera/tessera.h"
#include "plugin_test_support.hpp"
#include "relative_error.hpp"

namespace tessera::cuda_test {

inline Plugin& plugin(const std::string& name) { return test::build_plugin(name); }

// Empty when GPU 0 is usable, else why not ("CUDA driver version is insufficient ...").
inline std::string no_device_reason() {
  Plugin& cuda = plugin("cuda");
  if (cuda.compute()->device_count(cuda.state()) > 0) return {};
  tessera_device_info info{};
  info.struct_size = sizeof info;
  tessera_error err;
  tessera_error_init(&err);
  if (cuda.compute()->device_info(cuda.state(), 0, &info, &err) == TESSERA_OK) return "device_count is 0";
  std::string message = err.message;
  const std::string prefix = "cuda: no CUDA device: ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

// Where TESSERA_TEST_PLUGIN_DIR is set (the CUDA simulator's runs, which
// must find a device) or TESSERA_EXPECT_GPU=1 (a lent GPU machine) a missing
// device fails the test instead.
inline bool device_expected() {
  const char* dir = std::getenv("TESSERA_TEST_PLUGIN_DIR");
  return (dir != nullptr && *dir != '\0') || ::tessera::test::gpu_expected();
}

#define TESSERA_REQUIRE_CUDA()                                                                     \
  do {                                                                                             \
    const std::string why_ = ::tessera::cuda_test::no_device_reason();                             \
    if (!why_.empty() && ::tessera::cuda_test::device_expected())                                  \
      FAIL() << "no CUDA device, though TESSERA_TEST_PLUGIN_DIR or TESSERA_EXPECT_GPU expects one: " << why_; \
    if (!why_.empty()) GTEST_SKIP() << "no CUDA device: " << why_;                                 \
  } while (0)

// Bytes of a contiguous tensor of `dtype` and shape `ne`.
inline uint64_t bytes_of(int32_t dtype, const std::vector<int64_t>& ne) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  uint64_t n = static_cast<uint64_t>(ne.empty() ? 1 : ne[0]) / t.block_elements * t.block_bytes;
  for (std::size_t i = 1; i < ne.size(); ++i) n *= static_cast<uint64_t>(ne[i]);
  return n;
}

// One backend of `plugin_name` created from a YAML compute entry.
class Backend : public test::BackendBuffers {
 public:
  Backend(const std::string& plugin_name, const std::string& yaml, int32_t device = 0)
      : BackendBuffers(*plugin(plugin_name).compute()) {
    ConfigTree tree(YAML::Load(yaml), "test.yaml", "compute[0]");
    tessera_error err;
    tessera_error_init(&err);
    if (api_.backend_create(plugin(plugin_name).state(), device, tree.root(), &backend_, &err) != TESSERA_OK)
      throw std::runtime_error(plugin_name + " backend_create: " + err.message);
  }

  // A contiguous tensor in its own buffer, filled with `data` (if any).
  tessera_tensor tensor(int32_t dtype, std::vector<int64_t> ne, const void* data, const char* name) {
    tessera_tensor t{};
    t.struct_size = sizeof t;
    t.dtype = dtype;
    t.n_dims = static_cast<uint32_t>(ne.size());
    const tessera_dtype_traits traits = tessera_dtype_info(dtype);
    for (int i = 0; i < 4; ++i) t.ne[i] = i < static_cast<int>(ne.size()) ? ne[i] : 1;
    t.nb[0] = traits.block_bytes;
    t.nb[1] = static_cast<uint64_t>(t.ne[0]) / traits.block_elements * traits.block_bytes;
    for (int i = 2; i < 4; ++i) t.nb[i] = t.nb[i - 1] * static_cast<uint64_t>(t.ne[i - 1]);
    const uint64_t bytes = t.nb[3] * static_cast<uint64_t>(t.ne[3]);
    t.buffer = alloc(bytes);
    t.name = name;
    if (data != nullptr) write(t, 0, data, bytes);
    return t;
  }

  void write(const tessera_tensor& t, uint64_t offset, const void* data, uint64_t bytes) {
    tessera_error err;
    tessera_error_init(&err);
    if (api_.buffer_write(t.buffer, t.offset + offset, data, bytes, &err) != TESSERA_OK) throw std::runtime_error(err.message);
  }

  std::vector<uint8_t> read_bytes(const tessera_tensor& t) {
    std::vector<uint8_t> out(t.nb[3] * static_cast<uint64_t>(t.ne[3]));
    tessera_error err;
    tessera_error_init(&err);
    if (api_.buffer_read(t.buffer, t.offset, out.data(), out.size(), &err) != TESSERA_OK) throw std::runtime_error(err.message);
    return out;
  }
  std::vector<float> read_floats(const tessera_tensor& t) {
    const std::vector<uint8_t> bytes = read_bytes(t);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
  }

  // Executes and synchronizes; returns the status and message.
  std::pair<tessera_status, std::string> execute(const std::vector<tessera_node*>& nodes) {
    tessera_graph g{sizeof(tessera_graph), nodes.size(), nodes.data()};
    tessera_error err;
    tessera_error_init(&err);
    tessera_status s = api_.graph_execute(backend_, &g, &err);
    if (s == TESSERA_OK) s = api_.synchronize(backend_, &err);
    return {s, s == TESSERA_OK ? std::string() : std::string(err.message)};
  }
};

using test::make_node;
using test::random_floats;
using test::relative_error;

// An input of a one-node case: dtype, shape and raw bytes.
struct Input {
  int32_t dtype;
  std::vector<int64_t> ne;
  std::vector<uint8_t> bytes;
};

template <class T>
Input input(int32_t dtype, std::vector<int64_t> ne, const std::vector<T>& values) {
  Input in{dtype, std::move(ne), {}};
  in.bytes.resize(values.size() * sizeof(T));
  std::memcpy(in.bytes.data(), values.data(), in.bytes.size());
  return in;
}

// One node: its op, params, inputs and output; run() executes it on a
// backend of `plugin_name` and returns dst's bytes.
struct OpCase {
  int32_t op = TESSERA_OP_NONE;
  std::vector<Input> src;
  int32_t dst_dtype = TESSERA_DTYPE_F32;
  std::vector<int64_t> dst_ne;
  int32_t i_params[TESSERA_MAX_OP_PARAMS] = {};
  float f_params[TESSERA_MAX_OP_PARAMS] = {};
  // When set, src[0] is read through this view of its bytes (e.g. a
  // transpose) instead of densely.
  std::vector<int64_t> src0_view_ne;
  std::vector<uint64_t> src0_view_nb;

  std::vector<uint8_t> run(const std::string& plugin_name, const std::string& yaml) const {
    Backend b(plugin_name, yaml);
    std::vector<tessera_tensor> tensors;
    tensors.reserve(src.size() + 1);
    for (std::size_t i = 0; i < src.size(); ++i)
      tensors.push_back(b.tensor(src[i].dtype, src[i].ne, src[i].bytes.data(), "input"));
    if (!src0_view_ne.empty()) {
      if (src0_view_nb.size() != src0_view_ne.size()) throw std::runtime_error("src0_view_ne and src0_view_nb differ in length");
      tessera_tensor& view = tensors.front();
      view.n_dims = static_cast<uint32_t>(src0_view_ne.size());
      for (std::size_t j = 0; j < 4; ++j) {
        view.ne[j] = j < src0_view_ne.size() ? src0_view_ne[j] : 1;
        view.nb[j] = j < src0_view_nb.size() ? src0_view_nb[j] : view.nb[j - 1] * static_cast<uint64_t>(view.ne[j - 1]);  // j >= 1 here
      }
    }
    tessera_tensor dst = b.tensor(dst_dtype, dst_ne, nullptr, "output");
    std::vector<tessera_tensor*> srcs;
    for (auto& t : tensors) srcs.push_back(&t);
    tessera_node node = make_node(op, &dst, srcs);
    std::memcpy(node.i_params, i_params, sizeof i_params);
    std::memcpy(node.f_params, f_params, sizeof f_params);
    const auto [status, message] = b.execute({&node});
    if (status != TESSERA_OK) throw std::runtime_error(plugin_name + ": " + message);
    return b.read_bytes(dst);
  }
  std::vector<float> run_floats(const std::string& plugin_name, const std::string& yaml) const {
    const std::vector<uint8_t> bytes = run(plugin_name, yaml);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
  }
};

inline const std::string kCpu = "{backend: cpu, threads: 2}";
inline const std::string kCuda = "{backend: cuda}";
inline const std::string kCudaEager = "{backend: cuda, cuda_graphs: false}";

}  // namespace tessera::cuda_test
