// `tessera bench` at several context depths and for several pipelines, and
// its --plot chart: well-formed XML (parsed by Python's xml.etree), one line
// per pipeline with a point per depth, axis labels, ticks and a legend.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "eval_test_support.hpp"

namespace fs = std::filesystem;
using tessera::test::CliRun;
using tessera::test::quoted;

namespace {

const char* kTiny = "models/stories260K.gguf";

class BenchPlot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tessera::test::have_gguf_and_data(kTiny)) GTEST_SKIP() << "needs the gguf and cpu plugins and " << kTiny;
  }
  CliRun run(const std::string& args, bool with_stderr = false) {
    return tessera::test::tessera_cli(args, dir.path() / "cache", with_stderr);
  }
  // What the chart shows, read back by the Python checker; null without python3.
  nlohmann::json read_chart(const fs::path& svg) {
    if (std::system("python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") != 0) return nullptr;
    const std::string command =
        "python3 " + quoted(tessera::test::source_dir() / "tests/eval/check_svg_plot.py") + " " + quoted(svg) + " 2>&1";
    CliRun r;
    FILE* pipe = ::popen(command.c_str(), "r");
    char buffer[4096];
    std::size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
    r.status = ::pclose(pipe);
    EXPECT_EQ(r.status, 0) << "the SVG did not parse:\n" << r.out;
    return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  tessera::test::TempDir dir{"bench-plot"};
};

}  // namespace

TEST_F(BenchPlot, DepthTestsForTwoPipelinesMakeOneLineEach) {
  const fs::path a = tessera::test::write_pipeline(dir.path(), kTiny, 64, "one.yaml");
  // A name that must be escaped in XML.
  const fs::path b = tessera::test::write_pipeline(dir.path(), kTiny, 64, "two&<three>.yaml");
  const fs::path svg = dir.path() / "chart.svg";
  const CliRun r =
      run("bench " + quoted(a) + " " + quoted(b) + " -p 0 -n 4 -d 0,16,32 -r 1 --json --plot " + quoted(svg));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_EQ(doc[0]["pipeline"], a.string());
  EXPECT_EQ(doc[1]["pipeline"], b.string());
  for (const auto& p : doc) {
    ASSERT_EQ(p["results"].size(), 3u);
    EXPECT_EQ(p["results"][0]["test"], "tg4");
    EXPECT_EQ(p["results"][1]["test"], "tg4@d16");
    EXPECT_EQ(p["results"][2]["test"], "tg4@d32");
    EXPECT_EQ(p["results"][2]["depth"], 32);
    // Deeper context: more KV read per token, so a higher bytes-per-token bound input.
    EXPECT_GT(p["results"][2]["bytes_per_token"].get<double>(), p["results"][0]["bytes_per_token"].get<double>());
    for (const auto& t : p["results"]) EXPECT_GT(t["tokens_per_second"].get<double>(), 0.0);
  }
  ASSERT_TRUE(fs::exists(svg));
  const nlohmann::json chart = read_chart(svg);
  if (chart.is_null()) GTEST_SKIP() << "python3 with xml.etree is needed to parse the SVG";
  ASSERT_EQ(chart["series"].size(), 2u) << chart.dump();
  EXPECT_EQ(chart["series"][0]["name"], a.string());
  EXPECT_EQ(chart["series"][1]["name"], b.string());  // unescaped again by the XML parser
  for (const auto& s : chart["series"]) {
    EXPECT_EQ(s["points"], 3);
    EXPECT_EQ(s["x_increasing"], true);
  }
  EXPECT_EQ(chart["legend"], nlohmann::json({a.string(), b.string()}));
  ASSERT_EQ(chart["x_label"].size(), 1u);
  EXPECT_NE(chart["x_label"][0].get<std::string>().find("context depth"), std::string::npos);
  EXPECT_EQ(chart["y_label"][0], "generation tokens/s");
  EXPECT_NE(chart["title"][0].get<std::string>().find("stories260K.gguf"), std::string::npos);
  EXPECT_GE(chart["x_ticks"].size(), 3u);
  EXPECT_EQ(chart["x_ticks"][0], "0");
  EXPECT_GE(chart["y_ticks"].size(), 3u);
  EXPECT_EQ(chart["y_ticks"][0], "0");
}

TEST_F(BenchPlot, PromptLengthsMakeAPromptChart) {
  const fs::path a = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const fs::path svg = dir.path() / "pp.svg";
  const CliRun r = run("bench " + quoted(a) + " -p 8,16,32 -n 0 -r 1 --plot " + quoted(svg), true);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("plot written to"), std::string::npos) << r.out;
  const nlohmann::json chart = read_chart(svg);
  if (chart.is_null()) GTEST_SKIP() << "python3 with xml.etree is needed to parse the SVG";
  ASSERT_EQ(chart["series"].size(), 1u);
  EXPECT_EQ(chart["series"][0]["points"], 3);
  EXPECT_EQ(chart["y_label"][0], "prompt tokens/s");
}

TEST_F(BenchPlot, AChartThatCannotBeDrawnIsRefusedBeforeRunning) {
  const fs::path a = tessera::test::write_pipeline(dir.path(), kTiny, 64);
  const CliRun r = run("bench " + quoted(a) + " -p 8 -n 4 -r 1 --plot " + quoted(dir.path() / "x.svg"), true);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--plot needs several depths"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "x.svg"));
  const CliRun bad = run("bench " + quoted(a) + " -d 0,x", true);
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.out.find("'x' is not a token count"), std::string::npos) << bad.out;
}
