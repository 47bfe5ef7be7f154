// End to end on the GPU: the shared stories models through the GGUF and
// cuda plugins, against llama.cpp's reference run in
// shared/refs-public/greedy_once_upon_a_time.json, compared as
// refs-public/README.md prescribes (and as tests/e2e does for the cpu):
// teacher-forced logits and argmax at every step, and the free-running
// greedy ids for the exact types. Two placements: every layer on GPU 0, and
// the first half of the layers on the GPU with the rest on the CPU.
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cuda_test_support.hpp"
#include "greedy_reference.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tessera::cuda_test {
namespace {

json references() { return tessera::test::greedy_references(); }
fs::path shared_path(const std::string& reference_path) { return tessera::test::reference_model_path(reference_path); }

// The cpu end-to-end test's tolerances and argmax rule (greedy_reference.hpp).
using tessera::test::reference_tolerance;

struct Loaded {
  PluginRegistry registry;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<Session> session;
};

// HalfOnGpu: layers 0 .. n/2-1 on GPU 0, the rest on the cpu (-ngl n/2);
// TwoGpus: the same split over GPU 0 and GPU 1 (config/cuda-multi.yaml).
enum class Placement { AllOnGpu, HalfOnGpu, TwoGpus };

std::unique_ptr<Loaded> load(const fs::path& model, const fs::path& dir, Placement placement, int64_t layers) {
  auto loaded = std::make_unique<Loaded>();
  const fs::path file = dir / "pipeline.yaml";
  std::ofstream out(file);
  out << "model: { path: \"" << model.string() << "\" }\n";
  if (placement == Placement::AllOnGpu)
    out << "compute: [ { backend: cuda, device: 0 } ]\n";
  else
    out << "compute: [ { backend: cuda, device: 0, layers: 0-" << std::max<int64_t>(0, layers / 2 - 1) << " }, "
        << (placement == Placement::TwoGpus ? "{ backend: cuda, device: 1 }" : "{ backend: cpu, threads: 2 }")
        << " ]\n";
  out << "context: { size: 512, batch: 512, kv_type: f16 }\n";
  out.close();
  auto result = load_pipeline(file, loaded->registry, tessera::test::plugin_search_path());
  if (!result.pipeline) throw std::runtime_error(result.diagnostics.to_string());
  loaded->pipeline = std::move(result.pipeline);
  loaded->session = std::make_unique<Session>(*loaded->pipeline, loaded->registry);
  return loaded;
}

class CudaGreedy : public ::testing::TestWithParam<std::tuple<int, Placement>> {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_CUDA();
    if (std::get<1>(GetParam()) == Placement::TwoGpus) {
      Plugin& cuda = plugin("cuda");
      if (const int32_t n = cuda.compute()->device_count(cuda.state()); n < 2)
        GTEST_SKIP() << "needs two GPUs, this machine has " << n;
    }
    if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so"))
      GTEST_SKIP() << "the gguf format plugin is not built";
    if (!fs::exists(tessera::test::data_dir() / "refs-public/greedy_once_upon_a_time.json"))
      GTEST_SKIP() << "refs-public is missing (set TESSERA_TEST_DATA)";
    dir = fs::temp_directory_path() /
          ("tessera-cuda-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(std::get<0>(GetParam())));
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  fs::path dir;
};

TEST_P(CudaGreedy, TeacherForcedLogitsMatchLlamaCpp) {
  const auto [index, placement] = GetParam();
  const json ref = references()["results"][static_cast<std::size_t>(index)];
  const std::string type = ref["type"];
  SCOPED_TRACE(ref["model"].get<std::string>());
  auto probe = load(shared_path(ref["model"]), dir, Placement::AllOnGpu, 0);
  const int64_t layers = probe->session->runtime().hparams().block_count;
  probe.reset();
  auto loaded = load(shared_path(ref["model"]), dir, placement, layers);
  LlamaRuntime& runtime = loaded->session->runtime();
  if (placement != Placement::AllOnGpu) {
    EXPECT_EQ(runtime.layer_backend(0), "cuda");
    EXPECT_EQ(runtime.layer_backend(layers - 1), placement == Placement::TwoGpus ? "cuda" : "cpu");
    EXPECT_EQ(loaded->session->backends().back()->device(), placement == Placement::TwoGpus ? 1 : 0);
  }
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
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
  std::printf("%s on %s: max logit difference %.4f\n", type.c_str(),
              placement == Placement::AllOnGpu ? "the GPU" : placement == Placement::TwoGpus ? "GPU 0 + GPU 1" : "GPU + CPU",
              worst);
}

TEST_P(CudaGreedy, FreeRunningGreedyIdsMatchForExactTypes) {
  const auto [index, placement] = GetParam();
  const json ref = references()["results"][static_cast<std::size_t>(index)];
  const std::string type = ref["type"];
  if (type != "F32" && type != "F16" && type != "Q8_0")
    GTEST_SKIP() << type << ": compared teacher-forced only (refs-public/README.md)";
  auto probe = load(shared_path(ref["model"]), dir, Placement::AllOnGpu, 0);
  const int64_t layers = probe->session->runtime().hparams().block_count;
  probe.reset();
  auto loaded = load(shared_path(ref["model"]), dir, placement, layers);
  Generator generator(loaded->session->runtime(), loaded->session->tokenizer(), nullptr);
  GenerationSettings settings;
  settings.max_tokens = static_cast<int64_t>(ref["ids"].size());
  settings.stop_at_eos = false;
  const auto result = generator.generate(references()["prompt"].get<std::string>(), settings);
  EXPECT_EQ(result.generated_ids, ref["ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result.text, ref["text"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(models, CudaGreedy,
                         ::testing::Combine(::testing::Range(0, 7),
                                            ::testing::Values(Placement::AllOnGpu, Placement::HalfOnGpu,
                                                              Placement::TwoGpus)),
                         [](const ::testing::TestParamInfo<std::tuple<int, Placement>>& p) {
                           const Placement where = std::get<1>(p.param);
                           return "model" + std::to_string(std::get<0>(p.param)) +
                                  (where == Placement::AllOnGpu ? "_gpu" : where == Placement::HalfOnGpu ? "_half" : "_two_gpus");
                         });

}  // namespace
}  // namespace tessera::cuda_test
