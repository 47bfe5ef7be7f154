// Pipelines are checked against config/schema/pipeline.schema.yaml and the plugins
// they name; every mistake is reported at its line and column with the
// expected form. Line/column numbers below are counted in the YAML text each
// test writes (line 1 is the first line of that text).
#include <gtest/gtest.h>

#include <cstdlib>

#include "pipeline_test_support.hpp"

using tessera::test::has_error_at;
using tessera::test::PipelineFiles;

namespace {

// Lines 1-7 of every pipeline below: plugin_paths (7 lines incl. header).
std::string header() { return PipelineFiles::fixture_plugin_paths(); }
constexpr int kHeaderLines = 7;

struct Loaded {
  tessera::PluginRegistry registry;
  tessera::PipelineLoadResult result;
};

std::unique_ptr<Loaded> load_text(const PipelineFiles& files, const std::string& body) {
  auto loaded = std::make_unique<Loaded>();
  loaded->result = tessera::test::load(files.write("p.yaml", header() + body), loaded->registry);
  return loaded;
}

const std::string kModel = "model: { path: model.fixt }\n";
const std::string kCompute = "compute:\n  - { backend: fixture_compute, threads: 2 }\n";

}  // namespace

TEST(PipelineValidation, AcceptsACompletePipelineAndReadsEveryField) {
  PipelineFiles files;
  auto l = load_text(files, kModel +
                                "compute:\n"
                                "  - { backend: fixture_compute, device: 0, layers: 0-9, threads: 4 }\n"
                                "  - backend: fixture_compute\n"
                                "    device: 1\n"
                                "kernels:\n"
                                "  - { plugin: fixture_kernel, backend: fixture_compute, ops: [mul_mat.q4_0] }\n"
                                "context: { size: 2048, batch: 256, kv_type: q8_0, shift: yes, rope_freq_base: 10000 }\n"
                                "sampling:\n"
                                "  - { name: fixture_filter, k: 40, p: 0.9, words: [a, b], bias: {15: -1.5} }\n"
                                "  - { name: fixture_sampler }\n");
  ASSERT_FALSE(l->result.diagnostics.has_errors()) << l->result.diagnostics.to_string();
  const tessera::Pipeline& p = *l->result.pipeline;
  EXPECT_EQ(p.model.path, files.dir() / "model.fixt");
  EXPECT_EQ(p.model.format, "fixture_format");  // detected by probing
  ASSERT_EQ(p.compute.size(), 2u);
  EXPECT_EQ(p.compute[0].layers->first, 0);
  EXPECT_EQ(p.compute[0].layers->last, 9);
  EXPECT_FALSE(p.compute[1].layers.has_value());
  EXPECT_EQ(p.compute[1].device, 1);
  ASSERT_EQ(p.kernels.size(), 1u);
  EXPECT_EQ(p.kernels[0].ops[0].op, TESSERA_OP_MUL_MAT);
  EXPECT_EQ(p.kernels[0].ops[0].dtype, TESSERA_DTYPE_Q4_0);
  EXPECT_EQ(p.context.size, 2048);
  EXPECT_EQ(p.context.batch, 256);
  EXPECT_EQ(p.context.kv_type, "q8_0");
  EXPECT_TRUE(p.context.shift);
  EXPECT_DOUBLE_EQ(*p.context.rope_freq_base, 10000.0);
  ASSERT_EQ(p.sampling.size(), 2u);
  EXPECT_EQ(p.sampling[1].name, "fixture_sampler");
  EXPECT_EQ(p.sampling[0].location.line, kHeaderLines + 10);
}

TEST(PipelineValidation, ModelMmapDefaultsToOnAndTakesABool) {
  PipelineFiles files;
  auto on = load_text(files, kModel + kCompute);
  ASSERT_TRUE(on->result.pipeline) << on->result.diagnostics.to_string();
  EXPECT_TRUE(on->result.pipeline->model.mmap);
  auto off = load_text(files, "model: { path: model.fixt, mmap: false }\n" + kCompute);
  ASSERT_TRUE(off->result.pipeline) << off->result.diagnostics.to_string();
  EXPECT_FALSE(off->result.pipeline->model.mmap);
  auto bad = load_text(files, "model: { path: model.fixt, mmap: maybe }\n" + kCompute);
  EXPECT_TRUE(bad->result.diagnostics.has_errors());
  EXPECT_NE(bad->result.diagnostics.to_string().find("'model.mmap'"), std::string::npos)
      << bad->result.diagnostics.to_string();
}

TEST(PipelineValidation, UnknownTopLevelKeySuggestsTheRightOne) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "contxt: { size: 10 }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 4, 1,
                           {"unknown key 'contxt'", "did you mean 'context'?", "'sampling'"}));
}

TEST(PipelineValidation, UnknownNestedKeySuggestsTheRightOne) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "context:\n  size: 64\n  btach: 8\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 6, 3,
                           {"unknown key 'btach' in 'context'", "did you mean 'batch'?"}));
}

TEST(PipelineValidation, WrongTypeNamesTheExpectedForm) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "context:\n  size: big\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 9,
                           {"'context.size' must be an integer with 1 <= value <= 16777216", "got 'big'"}));
}

TEST(PipelineValidation, OutOfRangeNamesTheRange) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "context:\n  batch: 0\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 10,
                           {"'context.batch' is 0, out of range", "1 <= value <= 65536"}));
}

TEST(PipelineValidation, EnumListsAllowedValues) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "context: { kv_type: q8 }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 4, 21,
                           {"'context.kv_type' is 'q8'", "one of 'f16', 'f32' or 'q8_0'", "did you mean 'q8_0'?"}));
}

TEST(PipelineValidation, MissingRequiredKeys) {
  PipelineFiles files;
  auto l = load_text(files, "model: { format: fixture_format }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 1, 8, {"'model' is missing the required key 'path'"}));
  EXPECT_TRUE(has_error_at(l->result.diagnostics, 1, 1, {"the pipeline is missing the required key 'compute'"}));
}

TEST(PipelineValidation, MissingPluginSuggestsAnInstalledOne) {
  PipelineFiles files;
  auto l = load_text(files, kModel + "compute:\n  - { backend: fixture_comput }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 3, 16,
                           {"no compute plugin named 'fixture_comput' is installed", "did you mean 'fixture_compute'?",
                            "available: 'fixture_compute'"}));
}

TEST(PipelineValidation, PluginOfTheWrongKind) {
  PipelineFiles files;
  auto l = load_text(files, kModel + "compute:\n  - { backend: fixture_sampler }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 3, 16,
                           {"plugin 'fixture_sampler'", "is a sampler plugin, expected a compute plugin"}));
}

TEST(PipelineValidation, UnknownFormatPlugin) {
  PipelineFiles files;
  auto l = load_text(files, "model: { path: model.fixt, format: fixture_fromat }\n" + kCompute);
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 1, 36,
                           {"no format plugin named 'fixture_fromat'", "did you mean 'fixture_format'?"}));
}

TEST(PipelineValidation, SamplerParametersAreCheckedAgainstThePluginSpecs) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute +
                                "sampling:\n"
                                "  - name: fixture_filter\n"
                                "    kk: 3\n"
                                "    p: 1.5\n"
                                "    k: -1\n"
                                "  - { name: fixture_sampler, k: many, words: 7, bias: {x: 1} }\n");
  const auto& d = l->result.diagnostics;
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 6, 5,
                           {"unknown key 'kk' in 'sampling[0]' for sampler plugin 'fixture_filter'", "did you mean 'k'?"}));
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 7, 8, {"'sampling[0].p' is 1.5, out of range", "0 < p <= 1"}));
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 8, 8, {"'sampling[0].k' is -1, out of range", "0 <= k <= 1000000000"}));
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 9, 33, {"'sampling[1].k' must be integer", "got 'many'"}));
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 9, 46, {"'sampling[1].words' must be list of strings", "got '7'"}));
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 9, 56, {"entries of 'sampling[1].bias' must be <token id>: <number>"}));
}

TEST(PipelineValidation, RequiredPluginParameter) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "sampling:\n  - { name: fixture_required }\n  - { name: fixture_sampler }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 5,
                           {"missing the required parameter 'mode' of plugin 'fixture_required'"}));
}

TEST(PipelineValidation, ChainWithoutFinalDraw) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "sampling:\n  - { name: fixture_filter }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 5,
                           {"ends with 'fixture_filter', which does not select a token", "'fixture_sampler'"}));
}

TEST(PipelineValidation, SelectingSamplerMustBeLast) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute +
                                "sampling:\n  - { name: fixture_sampler }\n  - { name: fixture_filter }\n"
                                "  - { name: fixture_sampler }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 5,
                           {"sampler 'fixture_sampler' selects a token but is not last"}));
}

TEST(PipelineValidation, EmptySamplerChain) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "sampling: []\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 4, 11, {"'sampling' is empty"}));
}

TEST(PipelineValidation, LayerRanges) {
  PipelineFiles files;
  auto l = load_text(files, kModel +
                                "compute:\n"
                                "  - { backend: fixture_compute, device: 0, layers: 0-9 }\n"
                                "  - { backend: fixture_compute, device: 1, layers: 5-12 }\n"
                                "  - { backend: fixture_compute, device: 2 }\n"
                                "  - { backend: fixture_compute, device: 3 }\n"
                                "  - { backend: fixture_compute, device: 4, layers: 9-2 }\n"
                                "  - { backend: fixture_compute, device: 4, layers: 20-22 }\n");
  const auto& d = l->result.diagnostics;
  EXPECT_TRUE(has_error_at(d, kHeaderLines + 7, 52, {"'compute[4].layers' must be a layer range", "got '9-2'"}));
  // Structural errors stop before the consistency checks; fix and re-check.
  PipelineFiles files2;
  auto l2 = load_text(files2, kModel +
                                  "compute:\n"
                                  "  - { backend: fixture_compute, device: 0, layers: 0-9 }\n"
                                  "  - { backend: fixture_compute, device: 1, layers: 5-12 }\n"
                                  "  - { backend: fixture_compute, device: 2 }\n"
                                  "  - { backend: fixture_compute, device: 3 }\n"
                                  "  - { backend: fixture_compute, device: 3, layers: 20- }\n");
  const auto& d2 = l2->result.diagnostics;
  EXPECT_TRUE(has_error_at(d2, kHeaderLines + 4, 52, {"layers 5-12 overlap layers 0-9 of backend 'fixture_compute'"}));
  EXPECT_TRUE(has_error_at(d2, kHeaderLines + 6, 5, {"only one compute entry may omit 'layers'"}));
  EXPECT_TRUE(has_error_at(d2, kHeaderLines + 7, 5, {"backend 'fixture_compute' device 3 is listed twice"}));
}

TEST(PipelineValidation, KernelOverridesMustBeDeclaredByThePlugin) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute +
                                "kernels:\n"
                                "  - plugin: fixture_kernel\n"
                                "    backend: fixture_compute\n"
                                "    ops: [mul_mat.q8_0, mul_mat.q4_0]\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 7, 11,
                           {"kernel plugin 'fixture_kernel' does not implement 'mul_mat.q8_0'",
                            "did you mean 'mul_mat.q4_0'?"}));
}

TEST(PipelineValidation, KernelForABackendNotInThePipeline) {
  PipelineFiles files;
  // The kernel is named by its file, relative to the pipeline.
  const auto kernel_file = tessera::test::fixture_plugin_dir() / "kernel" / "libtessera_kernel.so";
  const std::string entry = "  - { plugin: " + std::filesystem::relative(kernel_file, files.dir()).string() +
                            ", backend: fixture_sampler, ops: [mul_mat.q4_0] }\n";
  auto l = load_text(files, kModel + kCompute + "kernels:\n" + entry);
  const int column = static_cast<int>(entry.find("fixture_sampler")) + 1;
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, column,
                           {"is a sampler plugin, expected a compute plugin"}));
}

TEST(PipelineValidation, KernelFileThatIsNotAPlugin) {
  PipelineFiles files;
  files.write("libfake.so", "not a library");
  auto l = load_text(files, kModel + kCompute + "kernels:\n  - { plugin: ./libfake.so, backend: fixture_compute, ops: [mul_mat.q4_0] }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 5, 15, {"libfake.so", "cannot load as a shared library"}));
}

TEST(PipelineValidation, YamlSyntaxErrorHasAPosition) {
  PipelineFiles files;
  auto l = load_text(files, kModel + "compute: [ { backend: fixture_compute }\n");
  ASSERT_TRUE(l->result.diagnostics.has_errors());
  const auto& first = l->result.diagnostics.all().front();
  EXPECT_NE(first.message.find("invalid YAML"), std::string::npos);
  EXPECT_GT(first.location.line, kHeaderLines);
}

TEST(PipelineValidation, MissingModelFile) {
  PipelineFiles files;
  auto l = load_text(files, "model: { path: nowhere.gguf }\n" + kCompute);
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 1, 16, {"'model.path'", "nowhere.gguf", "does not exist"}));
}

TEST(PipelineValidation, UnrecognisedModelFormat) {
  PipelineFiles files;
  files.write("model.bin", "not a known format");
  auto l = load_text(files, "model: { path: model.bin }\n" + kCompute);
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 1, 16, {"no format plugin recognises", "model.bin"}));
}

TEST(PipelineValidation, EnvironmentVariablesInPaths) {
  PipelineFiles files;
  ::setenv("TESSERA_TEST_MODEL_DIR", files.dir().c_str(), 1);
  auto ok = load_text(files, "model: { path: \"${TESSERA_TEST_MODEL_DIR}/model.fixt\" }\n" + kCompute);
  EXPECT_FALSE(ok->result.diagnostics.has_errors()) << ok->result.diagnostics.to_string();
  auto fallback = load_text(files, "model: { path: \"${TESSERA_UNSET_VARIABLE_X:-.}/model.fixt\" }\n" + kCompute);
  EXPECT_FALSE(fallback->result.diagnostics.has_errors()) << fallback->result.diagnostics.to_string();
  auto unset = load_text(files, "model: { path: \"${TESSERA_UNSET_VARIABLE_X}/model.fixt\" }\n" + kCompute);
  EXPECT_TRUE(has_error_at(unset->result.diagnostics, kHeaderLines + 1, 16,
                           {"environment variable 'TESSERA_UNSET_VARIABLE_X' is not set"}));
}

TEST(PipelineValidation, BatchLargerThanContext) {
  PipelineFiles files;
  auto l = load_text(files, kModel + kCompute + "context: { size: 128, batch: 512 }\n");
  EXPECT_TRUE(has_error_at(l->result.diagnostics, kHeaderLines + 4, 30, {"'context.batch' (512) is larger than 'context.size' (128)"}));
}

TEST(PipelineValidation, EmptyAndMissingFiles) {
  PipelineFiles files;
  tessera::PluginRegistry registry;
  auto empty = tessera::test::load(files.write("empty.yaml", ""), registry);
  EXPECT_TRUE(has_error_at(empty.diagnostics, 1, 1, {"the pipeline is empty"}));
  auto missing = tessera::test::load(files.dir() / "nope.yaml", registry);
  ASSERT_TRUE(missing.diagnostics.has_errors());
  EXPECT_NE(missing.diagnostics.all()[0].message.find("does not exist"), std::string::npos);
  auto scalar = tessera::test::load(files.write("scalar.yaml", "42\n"), registry);
  EXPECT_TRUE(has_error_at(scalar.diagnostics, 1, 1, {"the pipeline must be a map, got '42'"}));
}

TEST(PipelineValidation, EveryMistakeIsReportedNotJustTheFirst) {
  PipelineFiles files;
  auto l = load_text(files, "model: { path: model.fixt, colour: red }\ncompute: []\ncontext: { size: -1 }\n");
  EXPECT_EQ(l->result.diagnostics.error_count(), 3u) << l->result.diagnostics.to_string();
}

TEST(PipelineValidation, AliasBombIsRefusedNotExpanded) {
  PipelineFiles files;
  // Ten levels of ten aliases each: 10^10 nodes if expanded.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  tessera::PluginRegistry registry;
  auto result = tessera::test::load(files.write("bomb.yaml", text), registry);
  EXPECT_TRUE(has_error_at(result.diagnostics, 1, 1, {"expands to more than", "aliases"}));
}
