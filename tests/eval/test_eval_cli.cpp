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
