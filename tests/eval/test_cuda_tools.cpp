// `tessera ab`, `perplexity` and `bench` on CUDA pipelines, as a user runs
// them: the GPU against the CPU on one model, perplexity on the GPU against
// llama.cpp's reference, and the device-copy bandwidth test behind bench's
// bound. Built everywhere; each test skips, naming the reason, where the
// cuda plugin is not built or sees no GPU.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval_device_support.hpp"
#include "gpu_expected.hpp"
#include "eval_test_support.hpp"
#include "perplexity_reference.hpp"

namespace fs = std::filesystem;
using tessera::test::CliRun;
using tessera::test::data_dir;
using tessera::test::quoted;

namespace {

// The model config/cuda.yaml runs.
const char* kQ8 = "models/stories260K-wide256/stories260K-wide256-Q8_0.gguf";
const char* kF32 = "models/stories260K-wide256/stories260K-wide256-F32.gguf";
const char* kWiki = "data/wiki.test.head50k.raw";

class CudaTools : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = tessera::test::cuda_unavailable(); !why.empty()) {
      if (tessera::test::gpu_expected()) FAIL() << "no CUDA device, though TESSERA_EXPECT_GPU=1: " << why;
      GTEST_SKIP() << "no CUDA device: " << why;
    }
    for (const char* m : {kQ8, kF32})
      if (!tessera::test::have_gguf_and_data(m)) GTEST_SKIP() << "needs the gguf and cpu plugins and " << m;
    if (!fs::exists(data_dir() / kWiki) || !fs::exists(data_dir() / "refs-public/perplexity.json"))
      GTEST_SKIP() << "needs " << kWiki << " and refs-public/perplexity.json";
    // config/*.yaml find the shared models through this variable.
    ::setenv("TESSERA_TEST_DATA", data_dir().c_str(), 1);
  }
  CliRun run(const std::string& args, bool with_stderr = false) {
    return tessera::test::tessera_cli(args, dir.path() / "cache", with_stderr);
  }
  // One pipeline on `backend` over a shared model, context 256.
  fs::path pipeline(const std::string& name, const std::string& model, const std::string& compute) {
    const fs::path file = dir.path() / name;
    std::ofstream(file) << "model: { path: \"" << (data_dir() / model).string() << "\" }\ncompute: [ " << compute
                        << " ]\ncontext: { size: 256, batch: 256, kv_type: f16 }\n";
    return file;
  }
  static fs::path shipped(const char* name) { return tessera::test::source_dir() / "config" / name; }
  tessera::test::TempDir dir{"cuda-tools"};
};

}  // namespace

// The shipped config/cuda.yaml against the cpu backend on the same model:
// the gates a kernel must pass in CI (README), on the GPU's whole path.
TEST_F(CudaTools, AbCpuAgainstTheShippedCudaPipelineAgrees) {
  const fs::path cpu = pipeline("cpu.yaml", kQ8, "{ backend: cpu, threads: 2 }");
  const fs::path cuda = shipped("cuda.yaml");
  const std::string args = "ab " + quoted(cpu) + " " + quoted(cuda) + " -f " + quoted(data_dir() / kWiki) +
                           " --ctx 128 --chunks 2 -r 1 --speed-prompt 32 --speed-gen 8 -n 16";
  const CliRun r = run(args + " --json --fail-kl 0.01 --fail-top1 0.99");
  // The table and stderr say which gate failed, or why it did not run.
  if (r.status != 0)
    FAIL() << "status " << r.status << "\n" << run(args + " --fail-kl 0.01 --fail-top1 0.99", true).out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["a"]["backends"], "cpu (2 threads)");
  EXPECT_EQ(doc["b"]["backends"], "cuda");
  for (const char* side : {"a", "b"})
    EXPECT_TRUE(fs::equivalent(doc[side]["model"].get<std::string>(), data_dir() / kQ8)) << doc[side]["model"];
  const auto& agreement = doc["agreement"];
  EXPECT_EQ(agreement["positions"], 256);
  EXPECT_GT(agreement["top1_rate"].get<double>(), 0.99);
  EXPECT_LT(agreement["mean_kl"].get<double>(), 0.01);
  EXPECT_GE(agreement["max_kl"].get<double>(), agreement["mean_kl"].get<double>());
  // Two implementations of one model: not bit-identical, and not far apart.
  EXPECT_LT(agreement["max_abs_logit_difference"].get<double>(), 1.0);
  // Both sides score the same tokens the same way: perplexities within 1%.
  EXPECT_NEAR(doc["ratio_b_over_a"]["perplexity"].get<double>(), 1.0, 0.01);
  EXPECT_GT(doc["b"]["speed"]["generation"]["tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(doc["b"]["memory"]["device_bytes"].get<uint64_t>(), 1000000u);
  EXPECT_EQ(doc["gates"]["passed"], true);
}

// The whole wiki slice on the GPU, F32: every running value and the final
// one within 0.5% of llama-perplexity's.
TEST_F(CudaTools, PerplexityF32OnCudaMatchesLlamaCpp) {
  const fs::path cuda = pipeline("cuda-f32.yaml", kF32, "{ backend: cuda, device: 0 }");
  const auto ref = tessera::test::perplexity_reference("-F32.gguf", "wiki.test.head50k.raw");
  const CliRun r = run("perplexity " + quoted(cuda) + " -f " + quoted(data_dir() / kWiki) + " --ctx 256 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["chunks"].size(), ref.running.size());
  for (std::size_t i = 0; i < ref.running.size(); ++i)
    EXPECT_NEAR(doc["chunks"][i]["ppl"].get<double>(), ref.running[i],
                tessera::test::kPerplexityTolerance * ref.running[i])
        << "running value after chunk " << i + 1;
  EXPECT_NEAR(doc["ppl"].get<double>(), ref.ppl, tessera::test::kPerplexityTolerance * ref.ppl);
  EXPECT_EQ(doc["scored_tokens"], static_cast<int64_t>(ref.running.size()) * 127);
}

// The shipped config/cuda.yaml (Q8_0, CUDA graphs on): the first 12 chunks,
// as the CPU test checks them.
TEST_F(CudaTools, PerplexityOfTheShippedCudaPipelineMatchesLlamaCpp) {
  const auto ref = tessera::test::perplexity_reference("-Q8_0.gguf", "wiki.test.head50k.raw");
  const CliRun r = run("perplexity " + quoted(shipped("cuda.yaml")) + " -f " + quoted(data_dir() / kWiki) +
                       " --ctx 256 --chunks 12 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["chunks"].size(), 12u);
  for (std::size_t i = 0; i < 12; ++i)
    EXPECT_NEAR(doc["chunks"][i]["ppl"].get<double>(), ref.running[i],
                tessera::test::kPerplexityTolerance * ref.running[i])
        << "running value after chunk " << i + 1;
}

// bench's bound comes from a copy test on the GPU itself, not the host's
// memory: the method says so, the figure is near the GPU's nominal peak, and
// the second run reads it back from the cache.
TEST_F(CudaTools, BenchMeasuresTheDeviceCopyBandwidth) {
  const fs::path cuda = shipped("cuda.yaml");
  const CliRun r = run("bench " + quoted(cuda) + " -p 32 -n 16 -r 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["backend"], "cuda");
  EXPECT_EQ(doc["model"]["type"], "Q8_0");
  ASSERT_EQ(doc["bandwidth"].size(), 1u);
  const auto& bw = doc["bandwidth"][0];
  EXPECT_EQ(bw["method"].get<std::string>().rfind("device copy (read + write)", 0), 0u) << bw["method"];
  EXPECT_FALSE(bw["cached"].get<bool>());  // a fresh cache folder
  const double gbs = bw["gbs"].get<double>();
  EXPECT_GT(gbs, 0.0);
  EXPECT_DOUBLE_EQ(doc["bandwidth_gbs"].get<double>(), gbs);
  tessera_device_info info{};
  std::string why;
  ASSERT_TRUE(tessera::test::cuda_device_info(0, info, why)) << why;
  if (info.memory_bandwidth_gbs > 0) {
    // A copy of 2 x 256 MiB (beyond L2) cannot beat DRAM's peak; far below
    // it means the timing is not of device memory (e.g. host copies).
    EXPECT_LT(gbs, 1.25 * info.memory_bandwidth_gbs) << "nominal " << info.memory_bandwidth_gbs << " GB/s";
    EXPECT_GT(gbs, 0.2 * info.memory_bandwidth_gbs) << "nominal " << info.memory_bandwidth_gbs << " GB/s";
  }
  const auto& results = doc["results"];
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0]["test"], "pp32");
  EXPECT_EQ(results[1]["test"], "tg16");
  EXPECT_GT(results[1]["tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(results[1]["bound_tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(results[1]["fraction_of_bound"].get<double>(), 0.0);

  const CliRun again = run("bench " + quoted(cuda) + " -p 0 -n 4 -r 1 --json");
  ASSERT_EQ(again.status, 0) << again.out;
  const auto second = nlohmann::json::parse(again.out);
  EXPECT_TRUE(second["bandwidth"][0]["cached"].get<bool>());
  EXPECT_EQ(second["bandwidth"][0]["method"], bw["method"]);
  EXPECT_DOUBLE_EQ(second["bandwidth_gbs"].get<double>(), gbs);
}
