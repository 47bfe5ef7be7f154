// End to end on the CPU: the shared stories models, loaded through the GGUF
// and cpu plugins from a pipeline file, against llama.cpp's reference run in
// shared/refs-public/greedy_once_upon_a_time.json, compared the way its
// README prescribes: teacher-forced logits and argmax at every step, and the
// free-running greedy ids for F32, F16 and Q8_0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_data.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json references() {
  std::ifstream in(tessera::test::data_dir() / "refs-public/greedy_once_upon_a_time.json");
  return json::parse(in);
}

fs::path shared_path(const std::string& reference_path) {
  const std::string prefix = "../shared/";
  return tessera::test::data_dir() / reference_path.substr(prefix.size());
}

// Logit tolerance per weight type, stated as refs-public/README.md asks.
// The reference run rounds more than tessera's reference path does: with its
// F16 KV cache llama.cpp also rounds the queries and the attention weights to
// F16 (hence 0.02 for F32 and F16 weights, measured max 0.014), and for
// quantized weights it rounds the activations to 8 bits (Q8_0 / Q8_K) before
// every dot product, which tessera keeps in F32 (hence 0.35 for Q8_0 and the
// 4-6 bit types, measured max 0.29).
double tolerance(const std::string& type) {
  if (type == "F32" || type == "F16") return 0.02;
  return 0.35;
}

// Types whose dot products round the activations to 8 bits (llama.cpp:
// Q8_0 / Q8_K blocks; tessera: the int8 kernels). That rounding turns any
// change in the float order of a sum into a different code now and then, and
// the KV cache carries it on: reordering the float sum of the Q4_0 kernel
// (same precision; the unit tests bound it against exact math) moved the
// stories Q4_0 model's logit of token 338 at step 57 by 0.08, where the
// reference's top two are 0.08 apart. So for these types a reference margin
// under kRunnerUpMargin counts as "nearly equal" (refs-public/README.md: an
// engine with equally valid rounding may pick the other one): the argmax must
// be the reference's token or its runner-up, never a third token.
bool rounds_activations(const std::string& type) { return type != "F32" && type != "F16"; }
constexpr double kRunnerUpMargin = 0.2;

struct Loaded {
  tessera::PluginRegistry registry;
  std::unique_ptr<tessera::Pipeline> pipeline;
  std::unique_ptr<tessera::Session> session;
};

// `kernels`: the cpu plugin's kernel choice; "vnni" (int8 activations, as
// llama.cpp's Q4_0 / Q8_0 dot products) is only created where the CPU has it.
std::unique_ptr<Loaded> load(const fs::path& model, const fs::path& dir, const std::string& kernels = "auto") {
  auto loaded = std::make_unique<Loaded>();
  const fs::path file = dir / "pipeline.yaml";
  std::ofstream(file) << "model: { path: \"" << model.string() << "\" }\n"
                      << "compute: [ { backend: cpu, threads: 2, kernels: " << kernels << " } ]\n"
                      << "context: { size: 512, batch: 512, kv_type: f16 }  # llama.cpp's default cache, as in the reference run\n";
  auto result = tessera::load_pipeline(file, loaded->registry, {tessera::test::build_plugin_dir()});
  if (!result.pipeline) throw std::runtime_error(result.diagnostics.to_string());
  loaded->pipeline = std::move(result.pipeline);
  loaded->session = std::make_unique<tessera::Session>(*loaded->pipeline, loaded->registry);
  return loaded;
}

// (index into the reference file's results, cpu kernels)
class GreedyReference : public ::testing::TestWithParam<std::tuple<int, std::string>> {
 protected:
  int index() const { return std::get<0>(GetParam()); }
  const std::string& kernels() const { return std::get<1>(GetParam()); }
  void SetUp() override {
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    if (!fs::exists(tessera::test::data_dir() / "refs-public/greedy_once_upon_a_time.json"))
      GTEST_SKIP() << "refs-public is missing (set TESSERA_TEST_DATA)";
    dir = fs::temp_directory_path() /
          ("tessera-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(index()) + "-" + kernels());
    fs::create_directories(dir);
    if (kernels() != "auto") {
      try {
        load(tessera::test::data_dir() / "models/stories260K.gguf", dir, kernels());
      } catch (const std::exception& e) {
        GTEST_SKIP() << "kernels: " << kernels() << " is not available on this CPU: " << e.what();
      }
    }
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

}  // namespace

TEST_P(GreedyReference, TeacherForcedLogitsAndArgmaxMatchLlamaCpp) {
  const json ref = references()["results"][static_cast<std::size_t>(index())];
  const std::string type = ref["type"];
  SCOPED_TRACE(ref["model"].get<std::string>());
  auto loaded = load(shared_path(ref["model"]), dir, kernels());
  tessera::LlamaRuntime& runtime = loaded->session->runtime();
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(loaded->session->tokenizer().encode(references()["prompt"].get<std::string>(), true), prompt);
  const auto ids = ref["ids"].get<std::vector<int32_t>>();
  std::vector<float> logits = runtime.evaluate(prompt);
  double worst = 0;
  for (std::size_t step = 0; step < ids.size(); ++step) {
    const auto& top5 = ref["steps_top5"][step];
    for (const auto& pair : top5) {
      const int32_t id = pair[0];
      const double diff = std::fabs(logits[static_cast<std::size_t>(id)] - pair[1].get<double>());
      worst = std::max(worst, diff);
      EXPECT_LE(diff, tolerance(type)) << "step " << step << " token " << id;
    }
    const double margin = top5[0][1].get<double>() - top5[1][1].get<double>();
    const auto argmax = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (margin > kRunnerUpMargin || (margin > 0.05 && !rounds_activations(type))) {
      EXPECT_EQ(argmax, ids[step]) << "step " << step << " (reference margin " << margin << ")";
    } else if (margin > 0.05) {
      const int32_t runner_up = top5[1][0];
      EXPECT_TRUE(argmax == ids[step] || argmax == runner_up)
          << "step " << step << ": argmax " << argmax << " is neither the reference's " << ids[step]
          << " nor its runner-up " << runner_up << " (margin " << margin << ")";
    }
    if (step + 1 < ids.size()) logits = runtime.evaluate(std::span<const int32_t>(&ids[step], 1));
  }
  RecordProperty("max_logit_error", std::to_string(worst));
  std::printf("%s: max logit difference %.4f\n", type.c_str(), worst);
}

TEST_P(GreedyReference, FreeRunningGreedyIdsMatchForExactTypes) {
  const json ref = references()["results"][static_cast<std::size_t>(index())];
  const std::string type = ref["type"];
  if (type != "F32" && type != "F16" && type != "Q8_0")
    GTEST_SKIP() << type << ": compared teacher-forced only (refs-public/README.md)";
  auto loaded = load(shared_path(ref["model"]), dir, kernels());
  tessera::Generator generator(loaded->session->runtime(), loaded->session->tokenizer(), nullptr);
  tessera::GenerationSettings settings;
  settings.max_tokens = static_cast<int64_t>(ref["ids"].size());
  settings.stop_at_eos = false;
  const auto result = generator.generate(references()["prompt"].get<std::string>(), settings);
  EXPECT_EQ(result.prompt_ids, ref["prompt_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result.generated_ids, ref["ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result.text, ref["text"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(models, GreedyReference,
                         ::testing::Combine(::testing::Range(0, 7), ::testing::Values("auto", "vnni")),
                         [](const ::testing::TestParamInfo<GreedyReference::ParamType>& p) {
                           return std::to_string(std::get<0>(p.param)) + "_" + std::get<1>(p.param);
                         });
