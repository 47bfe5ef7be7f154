// `tessera ab` as a user runs it: the JSON fields, the cpu backend's scalar
// reference against its AVX-512 kernels on one model, identical pipelines,
// the gates and the failure paths.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "eval_device_support.hpp"
#include "eval_test_support.hpp"

namespace fs = std::filesystem;
using tessera::test::CliRun;
using tessera::test::data_dir;
using tessera::test::quoted;

namespace {

const char* kQ4 = "models/stories260K-wide256/pure/stories260K-wide256-pure-Q4_0.gguf";
const char* kF32 = "models/stories260K-wide256/stories260K-wide256-F32.gguf";
const char* kTiny = "models/stories260K.gguf";

class AbCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* m : {kQ4, kF32, kTiny})
      if (!tessera::test::have_gguf_and_data(m)) GTEST_SKIP() << "needs the gguf and cpu plugins and " << m;
    if (!fs::exists(data_dir() / "data/wiki.test.head50k.raw")) GTEST_SKIP() << "needs data/wiki.test.head50k.raw";
  }
  CliRun run(const std::string& args, bool with_stderr = false) {
    return tessera::test::tessera_cli(args, dir.path() / "cache", with_stderr);
  }
  // A cpu pipeline with extra settings for the compute entry and context.
  fs::path pipeline(const std::string& name, const std::string& model, const std::string& compute_extra = "",
                    const std::string& kv_type = "f16") {
    const fs::path file = dir.path() / name;
    std::ofstream(file) << "model: { path: \"" << (data_dir() / model).string()
                        << "\" }\ncompute: [ { backend: cpu, threads: 2" << compute_extra
                        << " } ]\ncontext: { size: 256, batch: 256, kv_type: " << kv_type << " }\n";
    return file;
  }
  std::string text() const { return quoted(data_dir() / "data/wiki.test.head50k.raw"); }
  // Whether the CPU has AVX-512 is decided from the OS before `ab` runs:
  // where it has, every failure of `kernels: avx512` is a test failure.
  static std::string no_avx512() {
    const std::string missing = tessera::test::cpu_lacks_avx512();
    return missing.empty() ? missing : "this CPU lacks " + missing + " (/proc/cpuinfo), needed by kernels: avx512";
  }
  // Small and quick: two chunks of 128 tokens, short speed tests.
  std::string quick(int repetitions = 1) const {
    return " -f " + text() + " --ctx 128 --chunks 2 -r " + std::to_string(repetitions) +
           " --speed-prompt 32 --speed-gen 8 -n 16";
  }
  tessera::test::TempDir dir{"ab-cli"};
};

}  // namespace

TEST_F(AbCli, ScalarAgainstAvx512OnOneModelAgreesAndTheJsonHasEveryField) {
  if (const std::string why = no_avx512(); !why.empty()) GTEST_SKIP() << why;
  const fs::path scalar = pipeline("scalar.yaml", kQ4, ", kernels: scalar");
  const fs::path avx = pipeline("avx512.yaml", kQ4, ", kernels: avx512");
  const CliRun r =
      run("ab " + quoted(scalar) + " " + quoted(avx) + quick() + " --json --fail-kl 0.001 --fail-top1 0.99", false);
  // Rerun with the table and stderr: which gate failed, or why it did not run.
  if (r.status != 0)
    FAIL() << "status " << r.status << "\n"
           << run("ab " + quoted(scalar) + " " + quoted(avx) + quick() + " --fail-kl 0.001 --fail-top1 0.99", true).out;
  const auto doc = nlohmann::json::parse(r.out);
  for (const char* side : {"a", "b"}) {
    const auto& s = doc[side];
    EXPECT_TRUE(fs::equivalent(s["model"].get<std::string>(), data_dir() / kQ4)) << s["model"];
    EXPECT_EQ(s["backends"], "cpu (2 threads)");
    EXPECT_TRUE(s["kernels"].is_array() && s["kernels"].empty());
    EXPECT_EQ(s["speed"]["prompt"]["test"], "pp32");
    EXPECT_GT(s["speed"]["prompt"]["tokens_per_second"].get<double>(), 0.0);
    EXPECT_EQ(s["speed"]["generation"]["test"], "tg8");
    EXPECT_GT(s["speed"]["generation"]["tokens_per_second"].get<double>(), 0.0);
    EXPECT_GT(s["memory"]["device_bytes"].get<uint64_t>(), 1000000u);
    EXPECT_TRUE(s["memory"]["host_rss_added_bytes"].is_number_unsigned());
    EXPECT_EQ(s["perplexity"]["chunks"], 2);
    EXPECT_EQ(s["perplexity"]["scored_tokens"], 2 * 63);  // second half of each chunk, as perplexity scores
    EXPECT_EQ(s["greedy"]["ids"].size(), 16u);
  }
  EXPECT_EQ(doc["a"]["pipeline"], scalar.string());
  EXPECT_EQ(doc["b"]["pipeline"], avx.string());
  const double ppl_a = doc["a"]["perplexity"]["ppl"], ppl_b = doc["b"]["perplexity"]["ppl"];
  EXPECT_GT(ppl_a, 1.0);
  EXPECT_NEAR(ppl_b / ppl_a, 1.0, 1e-3);
  EXPECT_NEAR(doc["ratio_b_over_a"]["perplexity"].get<double>(), ppl_b / ppl_a, 1e-12);
  EXPECT_NEAR(doc["ratio_b_over_a"]["generation_tokens_per_second"].get<double>(),
              doc["b"]["speed"]["generation"]["tokens_per_second"].get<double>() /
                  doc["a"]["speed"]["generation"]["tokens_per_second"].get<double>(),
              1e-9);
  EXPECT_EQ(doc["ratio_b_over_a"]["device_bytes"], 1.0);
  EXPECT_EQ(doc["text"]["tokens"], 31798);  // the count the references state for this text
  EXPECT_EQ(doc["context"], 128);

  const auto& agreement = doc["agreement"];
  EXPECT_EQ(agreement["chunks"], 2);
  EXPECT_EQ(agreement["positions"], 256);
  EXPECT_GT(agreement["top1_rate"].get<double>(), 0.99);
  EXPECT_EQ(agreement["top1_agreements"].get<double>() / 256.0, agreement["top1_rate"].get<double>());
  const double mean_kl = agreement["mean_kl"], max_kl = agreement["max_kl"];
  EXPECT_GE(mean_kl, 0.0);
  EXPECT_LT(mean_kl, 1e-4);  // float rounding of two summation orders, no more
  EXPECT_GE(max_kl, mean_kl);
  EXPECT_GE(agreement["max_kl_position"].get<int64_t>(), 0);
  EXPECT_LT(agreement["max_kl_position"].get<int64_t>(), 256);
  EXPECT_GT(agreement["max_abs_logit_difference"].get<double>(), 0.0);  // two summation orders differ somewhere
  EXPECT_LT(agreement["max_abs_logit_difference"].get<double>(), 0.1);
  EXPECT_TRUE(doc["greedy"]["identical"].is_boolean());
  EXPECT_EQ(doc["greedy"]["tokens"], 16);
  EXPECT_EQ(doc["gates"]["kl_statistic"], "mean");
  EXPECT_EQ(doc["gates"]["passed"], true);
  EXPECT_GT(doc["peak_rss_bytes"].get<uint64_t>(), 0u);
}

TEST_F(AbCli, TokenByTokenComparesTheDecodePath) {
  if (const std::string why = no_avx512(); !why.empty()) GTEST_SKIP() << why;
  const fs::path scalar = pipeline("scalar.yaml", kQ4, ", kernels: scalar");
  const fs::path avx = pipeline("avx512.yaml", kQ4, ", kernels: avx512");
  const std::string args =
      "ab " + quoted(scalar) + " " + quoted(avx) + " -f " + text() + " --ctx 64 --chunks 1 -r 0 -n 0 --decode";
  const CliRun r = run(args + " --json");
  if (r.status != 0) FAIL() << "status " << r.status << "\n" << run(args, true).out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["agreement"]["evaluation"], "token by token");
  EXPECT_EQ(doc["agreement"]["positions"], 64);
  EXPECT_GT(doc["agreement"]["top1_rate"].get<double>(), 0.99);
  EXPECT_LT(doc["agreement"]["mean_kl"].get<double>(), 1e-4);
  EXPECT_GT(doc["agreement"]["max_abs_logit_difference"].get<double>(), 0.0);
  EXPECT_TRUE(doc["greedy"]["identical"].is_null());  // -n 0: no continuation
}

TEST_F(AbCli, IdenticalPipelinesAgreeExactly) {
  const fs::path p = pipeline("same.yaml", kQ4);
  const CliRun r = run("ab " + quoted(p) + " " + quoted(p) + quick() + " --json --fail-kl 0 --fail-top1 1");
  ASSERT_EQ(r.status, 0) << r.out;  // KL exactly 0 does not exceed a gate of 0
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["agreement"]["mean_kl"].get<double>(), 0.0);
  EXPECT_EQ(doc["agreement"]["max_kl"].get<double>(), 0.0);
  EXPECT_EQ(doc["agreement"]["top1_rate"].get<double>(), 1.0);
  EXPECT_EQ(doc["agreement"]["max_abs_logit_difference"].get<double>(), 0.0);
  EXPECT_EQ(doc["greedy"]["identical"], true);
  EXPECT_TRUE(doc["greedy"]["first_divergence"].is_null());
  EXPECT_EQ(doc["a"]["greedy"]["ids"], doc["b"]["greedy"]["ids"]);
  EXPECT_EQ(doc["a"]["perplexity"]["ppl"], doc["b"]["perplexity"]["ppl"]);

  const CliRun md = run("ab " + quoted(p) + " " + quoted(p) + quick(), true);
  ASSERT_EQ(md.status, 0) << md.out;
  EXPECT_NE(md.out.find("| metric"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| top-1 agreement | 100.0000% (256 / 256) |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| greedy continuation (16 tokens of \"Once upon a time\") | identical |"), std::string::npos)
      << md.out;
  EXPECT_NE(md.out.find("comparing distributions: "), std::string::npos) << "progress line on stderr\n" << md.out;
}

TEST_F(AbCli, WithoutATextItComparesOnTheGreedyContinuation) {
  const fs::path p = pipeline("same.yaml", kQ4);
  const CliRun r = run("ab " + quoted(p) + " " + quoted(p) + " -r 0 -n 24 --json --fail-kl 0.01");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_TRUE(doc["text"]["path"].is_null());
  EXPECT_TRUE(doc["a"]["perplexity"].is_null());
  EXPECT_TRUE(doc["a"]["speed"]["prompt"].is_null());  // -r 0: no speed tests
  // BOS, the prompt's tokens and the 24 generated ones.
  EXPECT_EQ(doc["agreement"]["positions"].get<int64_t>(), doc["text"]["tokens"].get<int64_t>());
  EXPECT_GT(doc["agreement"]["positions"].get<int64_t>(), 24);
  EXPECT_EQ(doc["agreement"]["mean_kl"].get<double>(), 0.0);
}

TEST_F(AbCli, NoMmapCopiesTheWeightsOfBothPipelines) {
  const fs::path p = pipeline("same.yaml", kQ4);
  const CliRun mapped = run("ab " + quoted(p) + " " + quoted(p) + " -r 0 -n 8 --json");
  const CliRun copied = run("ab " + quoted(p) + " " + quoted(p) + " -r 0 -n 8 --no-mmap --json");
  ASSERT_EQ(mapped.status, 0) << mapped.out;
  ASSERT_EQ(copied.status, 0) << copied.out;
  const auto m = nlohmann::json::parse(mapped.out), c = nlohmann::json::parse(copied.out);
  const uint64_t file_bytes = fs::file_size(data_dir() / kQ4);
  for (const char* side : {"a", "b"}) {
    SCOPED_TRACE(side);
    // In place, most of the file is the backend's memory; copied, none of it.
    EXPECT_GT(m[side]["memory"]["mapped_bytes"].get<uint64_t>(), file_bytes / 2);
    EXPECT_LE(m[side]["memory"]["mapped_bytes"].get<uint64_t>(), m[side]["memory"]["device_bytes"].get<uint64_t>());
    EXPECT_EQ(c[side]["memory"]["mapped_bytes"].get<uint64_t>(), 0u);
    EXPECT_GE(c[side]["memory"]["device_bytes"].get<uint64_t>(), m[side]["memory"]["mapped_bytes"].get<uint64_t>());
    EXPECT_EQ(c[side]["greedy"]["ids"], m[side]["greedy"]["ids"]);  // the same weights either way
  }
  EXPECT_EQ(c["agreement"]["mean_kl"].get<double>(), 0.0);
}

TEST_F(AbCli, TheKlGateFailsWithStatus3AndSaysWhy) {
  // The same model with an f32 instead of an f16 KV cache: a small but
  // nonzero KL, so a gate of 0 must fail and a loose gate must pass.
  const fs::path f16 = pipeline("f16.yaml", kQ4);
  const fs::path f32 = pipeline("f32.yaml", kQ4, "", "f32");
  const CliRun strict = run("ab " + quoted(f16) + " " + quoted(f32) + quick() + " --fail-kl 0", true);
  EXPECT_EQ(strict.status, 3) << strict.out;
  EXPECT_NE(strict.out.find("FAILED: mean KL(A||B)"), std::string::npos) << strict.out;
  EXPECT_NE(strict.out.find("exceeds --fail-kl 0"), std::string::npos) << strict.out;
  const CliRun loose = run("ab " + quoted(f16) + " " + quoted(f32) + quick() + " --fail-kl 0.01 --json");
  ASSERT_EQ(loose.status, 0) << loose.out;
  const auto doc = nlohmann::json::parse(loose.out);
  EXPECT_GT(doc["agreement"]["mean_kl"].get<double>(), 0.0);
  EXPECT_LT(doc["agreement"]["mean_kl"].get<double>(), 1e-3);
  const CliRun top1 = run("ab " + quoted(f16) + " " + quoted(f32) + quick() + " --fail-top1 1.5", true);
  EXPECT_EQ(top1.status, 1) << top1.out;  // not a rate
  EXPECT_NE(top1.out.find("expected a rate between 0 and 1"), std::string::npos) << top1.out;
}

TEST_F(AbCli, FailuresAreClear) {
  const fs::path q4 = pipeline("q4.yaml", kQ4);
  const fs::path f32 = pipeline("f32.yaml", kF32);
  const fs::path tiny = pipeline("tiny.yaml", kTiny);

  CliRun r = run("ab " + quoted(q4) + " " + quoted(q4) + " -f " + quoted(dir.path() / "no-such.txt"), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cannot read the text file"), std::string::npos) << r.out;

  std::ofstream(dir.path() / "empty.txt").close();
  r = run("ab " + quoted(q4) + " " + quoted(q4) + " -f " + quoted(dir.path() / "empty.txt"), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("is empty"), std::string::npos) << r.out;

  r = run("ab " + quoted(f32) + " " + quoted(q4) + quick(), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("the pipelines load different models"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is F32 in A"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_0 in B"), std::string::npos) << r.out;

  r = run("ab " + quoted(tiny) + " " + quoted(f32) + quick(), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("the pipelines load different models"), std::string::npos) << r.out;

  // Two quantizations of one model can still be compared when asked to.
  r = run("ab " + quoted(f32) + " " + quoted(q4) + quick(0) + " --allow-different-models --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_GT(doc["agreement"]["mean_kl"].get<double>(), 0.0);
  EXPECT_GT(doc["agreement"]["top1_rate"].get<double>(), 0.5);

  EXPECT_EQ(run("ab " + quoted(q4), true).status, 2);  // one pipeline
  r = run("ab " + quoted(q4) + " " + quoted(q4) + " -n 0", true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("nothing to compare"), std::string::npos) << r.out;
}
