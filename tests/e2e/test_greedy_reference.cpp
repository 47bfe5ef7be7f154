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

#include "greedy_reference.hpp"
#include "test_data.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json references() { return tessera::test::greedy_references(); }
fs::path shared_path(const std::string& reference_path) { return tessera::test::reference_model_path(reference_path); }

using tessera::test::reference_tolerance;
using tessera::test::rounds_activations;

struct Loaded {
  tessera::PluginRegistry registry;
  std::unique_ptr<tessera::Pipeline> pipeline;
  std::unique_ptr<tessera::Session> session;
};

// `kernels`: the cpu plugin's kernel choice; "vnni" (int8 activations, as
// llama.cpp's dot products for quantized weights) is only created where the CPU has it.
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
      EXPECT_LE(diff, reference_tolerance(type)) << "step " << step << " token " << id;
    }
    tessera::test::expect_reference_argmax(logits, type, step, ids[step], top5[1][0],
                                           top5[0][1].get<double>() - top5[1][1].get<double>());
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
                         ::testing::Combine(::testing::Range(0, 7), ::testing::Values("auto", "avx512", "vnni")),
                         [](const ::testing::TestParamInfo<GreedyReference::ParamType>& p) {
                           return std::to_string(std::get<0>(p.param)) + "_" + std::get<1>(p.param);
                         });
