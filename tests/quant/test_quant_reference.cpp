// The reference dequantizers and quantizers of sdk/include/tessera/quant
// against an independent implementation of the GGUF block formats: the `gguf`
// Python package (numpy). Skips, with the reason, when it is not installed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tessera/quant/dequantize.hpp"
#include "tessera/quant/quantize.hpp"

using namespace tessera::quant;
namespace fs = std::filesystem;

namespace {

struct TypeCase {
  int32_t dtype;
  const char* name;
  double max_relative_rmse;  // quantization error bound on N(0,1) data
};

// Bounds are loose multiples of what each bit width achieves on Gaussian data.
const TypeCase kTypes[] = {
    {TESSERA_DTYPE_Q4_0, "Q4_0", 0.15}, {TESSERA_DTYPE_Q4_1, "Q4_1", 0.15}, {TESSERA_DTYPE_Q5_0, "Q5_0", 0.08},
    {TESSERA_DTYPE_Q5_1, "Q5_1", 0.08}, {TESSERA_DTYPE_Q8_0, "Q8_0", 0.01}, {TESSERA_DTYPE_Q2_K, "Q2_K", 0.45},
    {TESSERA_DTYPE_Q3_K, "Q3_K", 0.25}, {TESSERA_DTYPE_Q4_K, "Q4_K", 0.12}, {TESSERA_DTYPE_Q5_K, "Q5_K", 0.06},
    {TESSERA_DTYPE_Q6_K, "Q6_K", 0.03}, {TESSERA_DTYPE_IQ4_NL, "IQ4_NL", 0.12}, {TESSERA_DTYPE_IQ4_XS, "IQ4_XS", 0.12},
    {TESSERA_DTYPE_BF16, "BF16", 0.005}, {TESSERA_DTYPE_F16, "F16", 0.001},
};

std::string case_name(const ::testing::TestParamInfo<TypeCase>& info) { return info.param.name; }

// For readable test listings (instead of the struct's bytes).
[[maybe_unused]] void PrintTo(const TypeCase& c, std::ostream* os) { *os << c.name; }

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("tessera-quant-" + std::to_string(::getpid()) + "-" + name);
}

template <class T>
void write_file(const fs::path& path, const std::vector<T>& data) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data.data()),
                                              static_cast<std::streamsize>(data.size() * sizeof(T)));
}

template <class T>
std::vector<T> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<T> out(static_cast<size_t>(in.tellg()) / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * sizeof(T)));
  return out;
}

// Runs the Python reference; returns its exit status (3: unavailable).
int reference(const std::string& mode, const char* type, const fs::path& in, const fs::path& out) {
  const std::string command = std::string("python3 '") + TESSERA_QUANT_REFERENCE_SCRIPT + "' " + mode + " " + type +
                              " '" + in.string() + "' '" + out.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  return x;
}

// Random block bytes whose scale fields are finite halves (random bits there
// would give inf/nan scales, which say nothing about the layout).
std::vector<uint8_t> random_blocks(int32_t dtype, size_t n_blocks, uint32_t seed) {
  const tessera_dtype_traits t = tessera_dtype_info(dtype);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  std::vector<uint8_t> data(n_blocks * t.block_bytes);
  for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
  auto put_half = [&](uint8_t* p) {
    const uint16_t h = f32_to_f16(scale(rng));
    std::memcpy(p, &h, 2);
  };
  for (size_t i = 0; i < n_blocks; ++i) {
    uint8_t* block = data.data() + i * t.block_bytes;
    switch (dtype) {
      case TESSERA_DTYPE_Q4_0: case TESSERA_DTYPE_Q5_0: case TESSERA_DTYPE_Q8_0: case TESSERA_DTYPE_IQ4_NL:
      case TESSERA_DTYPE_IQ4_XS:
        put_half(block);
        break;
      case TESSERA_DTYPE_Q4_1: case TESSERA_DTYPE_Q5_1: case TESSERA_DTYPE_Q4_K: case TESSERA_DTYPE_Q5_K:
        put_half(block);
        put_half(block + 2);
        break;
      case TESSERA_DTYPE_Q2_K: put_half(block + 80); put_half(block + 82); break;
      case TESSERA_DTYPE_Q3_K: put_half(block + 108); break;
      case TESSERA_DTYPE_Q6_K: put_half(block + 208); break;
      case TESSERA_DTYPE_F16: case TESSERA_DTYPE_BF16:
        for (size_t j = 0; j < t.block_bytes; j += 2)
          put_half(block + j);  // a finite f16; as bf16 it is some finite value too
        break;
      default: break;
    }
  }
  if (dtype == TESSERA_DTYPE_BF16)
    for (size_t j = 0; j < data.size(); j += 2) data[j + 1] &= 0x7F;  // keep the exponent away from inf/nan
  return data;
}

class QuantReference : public ::testing::TestWithParam<TypeCase> {};

}  // namespace

// Dequantizing random blocks gives exactly what the independent reader gives.
TEST_P(QuantReference, DequantizeMatchesTheGgufPackage) {
  const TypeCase c = GetParam();
  const tessera_dtype_traits t = tessera_dtype_info(c.dtype);
  const size_t n_blocks = 64;
  const auto blocks = random_blocks(c.dtype, n_blocks, 7u + static_cast<uint32_t>(c.dtype));
  const fs::path in = scratch(std::string(c.name) + ".bin"), out = scratch(std::string(c.name) + ".f32");
  write_file(in, blocks);
  const int status = reference("dequantize", c.name, in, out);
  if (status == 3) GTEST_SKIP() << "the gguf Python package is not installed (pip install gguf)";
  ASSERT_EQ(status, 0);
  const auto expected = read_file<float>(out);
  std::vector<float> got(n_blocks * t.block_elements);
  ASSERT_TRUE(dequantize_row(c.dtype, blocks.data(), got.data(), static_cast<int64_t>(got.size())));
  ASSERT_EQ(expected.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-6 * std::max(1.0f, std::fabs(expected[i])))
        << c.name << " value " << i << " (block " << i / t.block_elements << ")";
  fs::remove(in);
  fs::remove(out);
}

// Quantizing Gaussian data: the bytes decode (by the independent reader) to
// values close to the input, within the type's error bound.
TEST_P(QuantReference, QuantizedBytesDecodeCloseToTheInput) {
  const TypeCase c = GetParam();
  const tessera_dtype_traits t = tessera_dtype_info(c.dtype);
  const size_t n = 256 * 32;
  const auto x = gaussian(n, 99);
  std::vector<uint8_t> bytes(n / t.block_elements * t.block_bytes);
  ASSERT_TRUE(quantize_row(c.dtype, x.data(), bytes.data(), static_cast<int64_t>(n)));
  const fs::path in = scratch(std::string(c.name) + ".q"), out = scratch(std::string(c.name) + ".deq");
  write_file(in, bytes);
  const int status = reference("dequantize", c.name, in, out);
  if (status == 3) GTEST_SKIP() << "the gguf Python package is not installed (pip install gguf)";
  ASSERT_EQ(status, 0);
  const auto decoded = read_file<float>(out);
  ASSERT_EQ(decoded.size(), n);
  double err = 0, energy = 0;
  for (size_t i = 0; i < n; ++i) {
    err += (decoded[i] - x[i]) * (decoded[i] - x[i]);
    energy += x[i] * x[i];
  }
  const double relative_rmse = std::sqrt(err / energy);
  EXPECT_LT(relative_rmse, c.max_relative_rmse) << c.name;
  RecordProperty("relative_rmse", std::to_string(relative_rmse));
  fs::remove(in);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantReference, ::testing::ValuesIn(kTypes), case_name);

// For the types whose quantizer the format defines by formula, the bytes
// must equal the reference quantizer's bytes exactly.
TEST(QuantReferenceExact, LegacyQuantizersMatchTheGgufPackageBitForBit) {
  for (const TypeCase& c : {TypeCase{TESSERA_DTYPE_Q4_0, "Q4_0", 0}, TypeCase{TESSERA_DTYPE_Q4_1, "Q4_1", 0},
                            TypeCase{TESSERA_DTYPE_Q5_0, "Q5_0", 0}, TypeCase{TESSERA_DTYPE_Q5_1, "Q5_1", 0},
                            TypeCase{TESSERA_DTYPE_Q8_0, "Q8_0", 0}, TypeCase{TESSERA_DTYPE_BF16, "BF16", 0}}) {
    const tessera_dtype_traits t = tessera_dtype_info(c.dtype);
    const size_t n = 32 * 128;
    const auto x = gaussian(n, 5);
    const fs::path in = scratch(std::string(c.name) + ".x"), out = scratch(std::string(c.name) + ".ref");
    write_file(in, x);
    const int status = reference("quantize", c.name, in, out);
    if (status == 3) GTEST_SKIP() << "the gguf Python package is not installed (pip install gguf)";
    ASSERT_EQ(status, 0);
    const auto expected = read_file<uint8_t>(out);
    std::vector<uint8_t> got(n / t.block_elements * t.block_bytes);
    quantize_row(c.dtype, x.data(), got.data(), static_cast<int64_t>(n));
    ASSERT_EQ(got.size(), expected.size()) << c.name;
    size_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != expected[i];
    EXPECT_EQ(mismatches, 0u) << c.name;
    fs::remove(in);
    fs::remove(out);
  }
}

// Q8_K is not in the gguf package: check against its definition directly.
TEST(QuantReferenceExact, Q8KFollowsItsDefinition) {
  const auto x = gaussian(256, 3);
  BlockQ8_K block;
  quantize_block(x.data(), block);
  float y[256];
  dequantize_block(block, y);
  for (int i = 0; i < 16; ++i) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += block.qs[16 * i + j];
    EXPECT_EQ(block.bsums[i], sum);
  }
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  for (int j = 0; j < 256; ++j) {
    EXPECT_FLOAT_EQ(y[j], block.d * static_cast<float>(block.qs[j]));
    EXPECT_NEAR(y[j], x[j], amax / 127.0f * 0.5f + 1e-6f);
  }
}

TEST(QuantReferenceExact, ZeroBlocksStayZero) {
  const std::vector<float> zeros(256, 0.0f);
  for (const TypeCase& c : kTypes) {
    const tessera_dtype_traits t = tessera_dtype_info(c.dtype);
    std::vector<uint8_t> bytes(256 / t.block_elements * t.block_bytes);
    std::vector<float> back(256, 1.0f);
    quantize_row(c.dtype, zeros.data(), bytes.data(), 256);
    dequantize_row(c.dtype, bytes.data(), back.data(), 256);
    for (float v : back) ASSERT_EQ(v, 0.0f) << c.name;
  }
}
