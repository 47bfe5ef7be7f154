// `tessera bench` and `tessera perplexity` as a user runs them: JSON fields,
// CSV and markdown output, and clear failures with a non-zero exit.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "eval_test_support.hpp"

namespace fs = std::filesystem;
using tessera::test::CliRun;
using tessera::test::data_dir;
using tessera::test::quoted;

namespace {

const char* kTiny = "models/stories260K.gguf";
const char* kWide = "models/stories260K-wide256/stories260K-wide256-F32.gguf";

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::test::have_gguf_and_data(kTiny) || !tessera::test::have_gguf_and_data(kWide))
      GTEST_SKIP() << "needs the gguf and cpu plugins and the shared models";
  }
  CliRun run(const std::string& args, bool with_stderr = false) {
    return tessera::test::tessera_cli(args, dir.path() / "cache", with_stderr);
  }
  tessera::test::TempDir dir{"eval-cli"};
};

}  // namespace

TEST_F(EvalCli, NoMmapCopiesTheWeightsIntoTheBackend) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const CliRun r = run("bench " + quoted(pipeline) + " -p 0 -n 4 -r 1 --no-mmap --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["devices"].size(), 1u);
  EXPECT_EQ(doc["devices"][0]["mapped_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(doc["devices"][0]["allocated_bytes"].get<uint64_t>(), doc["model"]["size_bytes"].get<uint64_t>());
}

TEST_F(EvalCli, BenchJsonHasEveryFieldAndCachesTheBandwidth) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const CliRun r = run("bench " + quoted(pipeline) + " -p 16,32 -n 8 -r 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["model"]["type"], "F32");
  EXPECT_GT(doc["model"]["size_bytes"].get<uint64_t>(), 1000000u);
  EXPECT_GT(doc["model"]["parameters"].get<uint64_t>(), 200000u);
  EXPECT_GT(doc["model"]["weight_bytes_per_token"].get<uint64_t>(), 0u);
  EXPECT_EQ(doc["backend"], "cpu");
  EXPECT_EQ(doc["threads"], "2");
  EXPECT_GT(doc["bandwidth_gbs"].get<double>(), 0.0);
  ASSERT_EQ(doc["bandwidth"].size(), 1u);
  EXPECT_FALSE(doc["bandwidth"][0]["cached"].get<bool>());
  ASSERT_EQ(doc["devices"].size(), 1u);
  EXPECT_EQ(doc["devices"][0]["type"], "cpu");
  // The weights are used in place in the mapped file (model.mmap, on by
  // default); the KV cache and activations are allocated.
  EXPECT_GT(doc["devices"][0]["allocated_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(doc["devices"][0]["mapped_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(doc["devices"][0]["allocated_bytes"].get<uint64_t>() + doc["devices"][0]["mapped_bytes"].get<uint64_t>(),
            doc["model"]["size_bytes"].get<uint64_t>());
  EXPECT_GT(doc["devices"][0]["memory_used_bytes"].get<uint64_t>(), 0u);
  EXPECT_LE(doc["devices"][0]["memory_used_bytes"].get<uint64_t>(),
            doc["devices"][0]["memory_total_bytes"].get<uint64_t>());
  const auto& results = doc["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["test"], "pp16");
  EXPECT_EQ(results[1]["test"], "pp32");
  EXPECT_EQ(results[2]["test"], "tg8");
  for (const auto& t : results) {
    EXPECT_EQ(t["repetitions"], 2);
    EXPECT_EQ(t["samples_tokens_per_second"].size(), 2u);
    EXPECT_GT(t["tokens_per_second"].get<double>(), 0.0);
    EXPECT_GE(t["tokens_per_second_stddev"].get<double>(), 0.0);
    EXPECT_GT(t["device_memory_bytes"].get<uint64_t>(), 1000000u);
    EXPECT_GT(t["peak_rss_bytes"].get<uint64_t>(), 1000000u);
  }
  EXPECT_FALSE(results[0].contains("bound_tokens_per_second"));  // prefill is not bandwidth-bound
  EXPECT_GT(results[2]["bound_tokens_per_second"].get<double>(), 0.0);
  EXPECT_GT(results[2]["fraction_of_bound"].get<double>(), 0.0);
  // Without a chain, generation tests time argmax as the sampler: next to
  // nothing against the model's decode, and outside the decode seconds.
  EXPECT_EQ(doc["sampler_chain_length"], 0);
  EXPECT_FALSE(results[0].contains("sampling_seconds_per_token"));
  ASSERT_TRUE(results[2].contains("sampling_seconds_per_token"));
  ASSERT_EQ(results[2]["samples_sampling_seconds"].size(), 2u);
  const double sampling = results[2]["sampling_seconds_per_token"].get<double>();
  EXPECT_GE(sampling, 0.0);
  EXPECT_LT(sampling, 1.0 / results[2]["tokens_per_second"].get<double>());
  EXPECT_GE(results[2]["sampling_share_of_decode"].get<double>(), 0.0);
  EXPECT_LT(results[2]["sampling_share_of_decode"].get<double>(), 1.0);

  // The second run reads the measurement back from the cache.
  EXPECT_TRUE(fs::exists(dir.path() / "cache/tessera/bandwidth.yaml"));
  const CliRun again = run("bench " + quoted(pipeline) + " -p 0 -n 4 -r 1 --json");
  ASSERT_EQ(again.status, 0) << again.out;
  const auto second = nlohmann::json::parse(again.out);
  EXPECT_TRUE(second["bandwidth"][0]["cached"].get<bool>());
  EXPECT_DOUBLE_EQ(second["bandwidth_gbs"].get<double>(), doc["bandwidth_gbs"].get<double>());
  EXPECT_EQ(second["results"].size(), 1u);
}

TEST_F(EvalCli, BenchCsvAndMarkdown) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const CliRun csv = run("bench " + quoted(pipeline) + " -p 8 -n 4 -r 1 --csv");
  ASSERT_EQ(csv.status, 0) << csv.out;
  EXPECT_EQ(csv.out.rfind("model,type,size_bytes", 0), 0u) << csv.out;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3) << csv.out;
  const CliRun md = run("bench " + quoted(pipeline) + " -p 8 -n 4 -r 1", true);
  ASSERT_EQ(md.status, 0) << md.out;
  EXPECT_NE(md.out.find("| model"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| tg4"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("bench: "), std::string::npos) << "progress line on stderr\n" << md.out;
}

// The sampler chain's cost per token, measured inside generation (`run`) and
// next to the decode of a generation test (`bench`).
TEST_F(EvalCli, RunAndBenchTimeTheSamplerChain) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  std::ofstream(pipeline, std::ios::app)
      << "sampling: [ { name: penalties, last_n: 64, repeat_penalty: 1.1 }, { name: top_k, k: 40 },"
         " { name: top_p, p: 0.95 }, { name: min_p, p: 0.05 }, { name: temperature, t: 0.8 }, { name: dist, seed: 1 } ]\n";
  const CliRun r = run("run " + quoted(pipeline) + " -p 'Once upon a time' -n 16 --ignore-eos --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  const auto& t = doc["timings"];
  ASSERT_TRUE(t.contains("sampling_seconds")) << t.dump();
  EXPECT_GT(t["sampling_seconds"].get<double>(), 0.0);
  EXPECT_LT(t["sampling_seconds"].get<double>(), t["generation_seconds"].get<double>());
  EXPECT_NEAR(t["sampling_seconds_per_token"].get<double>(), t["sampling_seconds"].get<double>() / 16, 1e-12);
  EXPECT_GT(t["decode_seconds_per_token"].get<double>(), 0.0);
  EXPECT_NEAR(t["sampling_share_of_decode"].get<double>(),
              t["sampling_seconds_per_token"].get<double>() / t["decode_seconds_per_token"].get<double>(), 1e-9);

  const CliRun line = run("run " + quoted(pipeline) + " -p 'Once upon a time' -n 8 --ignore-eos", true);
  ASSERT_EQ(line.status, 0) << line.out;
  EXPECT_NE(line.out.find("| sampling: "), std::string::npos) << line.out;
  EXPECT_NE(line.out.find("% of decode"), std::string::npos) << line.out;

  const CliRun bench = run("bench " + quoted(pipeline) + " -p 0 -n 8 -r 2 --json");
  ASSERT_EQ(bench.status, 0) << bench.out;
  const auto b = nlohmann::json::parse(bench.out);
  EXPECT_EQ(b["sampler_chain_length"], 6);
  const auto& tg = b["results"][0];
  ASSERT_TRUE(tg.contains("sampling_seconds_per_token")) << tg.dump();
  EXPECT_GT(tg["sampling_seconds_per_token"].get<double>(), 0.0);
  EXPECT_GT(tg["sampling_share_of_decode"].get<double>(), 0.0);
  double total = 0;
  for (const auto& s : tg["samples_sampling_seconds"]) total += s.get<double>();
  EXPECT_NEAR(tg["sampling_seconds_per_token"].get<double>(), total / (2 * 8), 1e-12);
  const CliRun md = run("bench " + quoted(pipeline) + " -p 0 -n 4 -r 1");
  ASSERT_EQ(md.status, 0) << md.out;
  EXPECT_NE(md.out.find("tg4 sampling by the sampler chain (6 samplers): "), std::string::npos) << md.out;
}

TEST_F(EvalCli, BenchRefusesBadCounts) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const CliRun r = run("bench " + quoted(pipeline) + " -p 8,x", true);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("'x' is not a token count"), std::string::npos) << r.out;
  EXPECT_NE(run("bench " + quoted(pipeline) + " -p 0 -n 0", true).status, 0);
  EXPECT_NE(run("bench " + quoted(pipeline) + " -r 0", true).status, 0);
}

TEST_F(EvalCli, PerplexityJsonFollowsTheReferenceMethod) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kWide, 256);
  const CliRun r = run("perplexity " + quoted(pipeline) + " -f " + quoted(data_dir() / "data/wiki.test.head50k.raw") +
                       " --ctx 256 --chunks 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["context"], 256);
  EXPECT_EQ(doc["first_scored"], 128);
  EXPECT_EQ(doc["n_chunks"], 2);
  EXPECT_EQ(doc["scored_tokens"], 2 * 127);
  EXPECT_EQ(doc["tokens"], 31798);  // the count the references state for this text
  ASSERT_EQ(doc["chunks"].size(), 2u);
  EXPECT_EQ(doc["chunks"][1]["chunk"], 2);
  // llama-perplexity's running value after two chunks: 77.5241.
  EXPECT_NEAR(doc["ppl"].get<double>(), 77.5241, 0.005 * 77.5241);
  EXPECT_GT(doc["ppl_error"].get<double>(), 0.0);
}

TEST_F(EvalCli, PerplexityHumanOutputEndsWithTheFinalEstimate) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kWide, 256);
  const CliRun r = run("perplexity " + quoted(pipeline) + " -f " + quoted(data_dir() / "data/wiki.test.head50k.raw") +
                       " --ctx 256 --chunks 1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("[1/1] ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("Final estimate: PPL = "), std::string::npos) << r.out;
}

TEST_F(EvalCli, PerplexityFailuresAreClear) {
  const fs::path pipeline = tessera::test::write_pipeline(dir.path(), kWide, 256);
  const auto ppl = [&](const std::string& args) { return run("perplexity " + quoted(pipeline) + " " + args, true); };

  CliRun r = ppl("-f " + quoted(dir.path() / "no-such.txt"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("cannot read the text file"), std::string::npos) << r.out;

  std::ofstream(dir.path() / "empty.txt").close();
  r = ppl("-f " + quoted(dir.path() / "empty.txt"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("is empty"), std::string::npos) << r.out;

  std::ofstream(dir.path() / "short.txt") << "Once upon a time there was a little girl named Lily.\n";
  r = ppl("-f " + quoted(dir.path() / "short.txt") + " --ctx 256");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("needs at least 512 (2 x context)"), std::string::npos) << r.out;

  r = ppl("-f " + quoted(data_dir() / "data/wiki.test.head50k.raw") + " --ctx 512");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("larger than the pipeline's context.size 256"), std::string::npos) << r.out;

  EXPECT_EQ(run("perplexity " + quoted(pipeline), true).status, 2);  // no -f
}
