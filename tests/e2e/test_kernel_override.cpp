// A kernel plugin listed under `kernels:` really runs the ops it declares,
// on the backend's own buffers, and the output is unchanged.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>

#include <fstream>

#include "test_data.hpp"
#include "tessera/core/generator.hpp"
#include "tessera/core/log.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/session.hpp"

namespace fs = std::filesystem;

namespace {

struct Outcome {
  std::vector<int32_t> ids;
  uint64_t kernel_calls = 0;
};

Outcome generate(const std::string& kernels_yaml) {
  const fs::path dir = fs::temp_directory_path() / ("tessera-kernel-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "p.yaml";
  std::ofstream(file) << "plugin_paths: [" << (tessera::test::fixture_plugin_dir() / "counting_matmul").string() << "]\n"
                      << "model: { path: \"" << (tessera::test::data_dir() / "models/stories260K.gguf").string()
                      << "\" }\ncompute: [ { backend: cpu, threads: 2 } ]\ncontext: { size: 256 }\n"
                      << kernels_yaml;
  tessera::PluginRegistry registry;
  auto loaded = tessera::load_pipeline(file, registry, {tessera::test::build_plugin_dir()});
  fs::remove_all(dir);
  if (!loaded.pipeline) throw std::runtime_error(loaded.diagnostics.to_string());
  tessera::Session session(*loaded.pipeline, registry);
  tessera::Generator generator(session.runtime(), session.tokenizer(), session.sampler());
  tessera::GenerationSettings settings;
  settings.max_tokens = 24;
  Outcome run;
  run.ids = generator.generate("Once upon a time", settings).generated_ids;
  for (const auto& k : session.kernels()) run.kernel_calls += k->calls;
  return run;
}

}  // namespace

TEST(KernelOverride, TheKernelPluginRunsItsOpsAndTheTextIsUnchanged) {
  if (!fs::exists(tessera::test::build_plugin_dir() / "libtessera_gguf.so")) GTEST_SKIP() << "gguf plugin not built";
  if (!fs::exists(tessera::test::data_dir() / "models/stories260K.gguf")) GTEST_SKIP() << "shared models missing";
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  tessera::logger()->sinks().push_back(sink);
  const Outcome plain = generate("");
  const Outcome overridden =
      generate("kernels: [ { plugin: counting_matmul, backend: cpu, ops: [mul_mat.f32] } ]\n");
  tessera::logger()->sinks().pop_back();
  EXPECT_EQ(plain.kernel_calls, 0u);
  // 7 projections per layer x 5 layers + the output head, for the prompt and
  // for each of the 23 following tokens.
  EXPECT_EQ(overridden.kernel_calls, (5u * 7u + 1u) * 24u);
  EXPECT_EQ(overridden.ids, plain.ids);
  bool logged = false;
  for (const auto& line : sink->last_formatted()) logged |= line.find("[counting_matmul] executed 864 nodes") != std::string::npos;
  EXPECT_TRUE(logged) << "the plugin's destroy() log line did not reach the host logger";
}
