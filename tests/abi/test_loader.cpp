// The loader accepts good plugins (including older and newer minor ABI
// versions) and refuses each broken fixture with one message that names the
// file and, for version problems, both versions.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_data.hpp"
#include "tessera/core/config_tree.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/log.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/sampler_chain.hpp"

namespace fs = std::filesystem;
using tessera::PluginRegistry;

namespace {

fs::path fixture_dir(const std::string& name) { return tessera::test::fixture_plugin_dir() / name; }
fs::path fixture_file(const std::string& name) {
  return fixture_dir(name) / ("libtessera_" + name + ".so");
}

// Loads one fixture and returns the single failure message (empty if it loaded).
std::string refusal(const std::string& name) {
  PluginRegistry registry;
  registry.discover({fixture_dir(name)});
  if (registry.failures().empty()) return {};
  EXPECT_EQ(registry.failures().size(), 1u);
  EXPECT_TRUE(registry.plugins().empty());
  return registry.failures().front().message;
}

::testing::AssertionResult mentions(const std::string& text, const std::vector<std::string>& parts) {
  for (const auto& p : parts)
    if (text.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "'" << text << "' does not mention '" << p << "'";
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(Loader, LoadsAPluginOfEveryKind) {
  PluginRegistry registry;
  registry.discover({fixture_dir("sampler"), fixture_dir("filter"), fixture_dir("compute"), fixture_dir("format"),
                     fixture_dir("kernel")});
  EXPECT_TRUE(registry.failures().empty()) << registry.failures().front().message;
  ASSERT_EQ(registry.plugins().size(), 5u);
  const tessera::Plugin* sampler = registry.find("fixture_sampler", TESSERA_KIND_SAMPLER);
  ASSERT_NE(sampler, nullptr);
  EXPECT_EQ(sampler->version(), "1.2.3");
  EXPECT_EQ(sampler->abi_major(), TESSERA_ABI_VERSION_MAJOR);
  EXPECT_EQ(sampler->abi_minor(), TESSERA_ABI_VERSION_MINOR);
  EXPECT_EQ(sampler->author(), "tessera developers");
  EXPECT_EQ(sampler->license(), "Apache-2.0");
  EXPECT_EQ(sampler->path(), fs::weakly_canonical(fixture_file("sampler")));
  ASSERT_EQ(sampler->params().size(), 4u);
  EXPECT_EQ(sampler->params()[1].name, "p");
  EXPECT_EQ(sampler->params()[1].range_text(), "0 < p <= 1");
  EXPECT_NE(registry.find("fixture_compute", TESSERA_KIND_COMPUTE), nullptr);
  EXPECT_NE(registry.find("fixture_format", TESSERA_KIND_FORMAT), nullptr);
  EXPECT_NE(registry.find("fixture_kernel", TESSERA_KIND_KERNEL), nullptr);
  EXPECT_EQ(registry.find("fixture_compute", TESSERA_KIND_SAMPLER), nullptr);  // wrong kind
  EXPECT_EQ(registry.names_of_kind(TESSERA_KIND_SAMPLER), (std::vector<std::string>{"fixture_filter", "fixture_sampler"}));
}

// A plugin compiled against ABI 1.0 has the smaller 1.0 descriptor (no
// author/license). It must load and work; the 1.1 fields read as absent.
TEST(Loader, PluginBuiltForOlderMinorWithSmallerStructLoadsAndRuns) {
  PluginRegistry registry;
  registry.discover({fixture_dir("abi_v1_0")});
  ASSERT_TRUE(registry.failures().empty()) << registry.failures().front().message;
  const tessera::Plugin* plugin = registry.find("fixture_old_minor");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->abi_minor(), 0);
  EXPECT_LT(TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE, sizeof(tessera_plugin_descriptor));
  EXPECT_EQ(plugin->author(), "");
  EXPECT_EQ(plugin->license(), "");

  // And it really runs through the core: a chain of just this sampler (argmax).
  tessera::ConfigTree tree(YAML::Load("[{name: fixture_old_minor}]"), "inline.yaml", "sampling");
  std::vector<tessera::SamplerEntry> entries{{"fixture_old_minor", tree.root()->items[0].get(), {}}};
  tessera_sampler_context context{sizeof(tessera_sampler_context), 4, nullptr, nullptr};
  tessera::SamplerChain chain(entries, registry, context);
  const std::vector<float> logits{0.5f, 2.0f, -1.0f, 1.5f};
  EXPECT_EQ(chain.sample(logits), 1);
}

TEST(Loader, PluginBuiltForNewerMinorLoadsIgnoringUnknownFields) {
  PluginRegistry registry;
  registry.discover({fixture_dir("abi_future_minor")});
  ASSERT_TRUE(registry.failures().empty()) << registry.failures().front().message;
  const tessera::Plugin* plugin = registry.find("fixture_future_minor");
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->abi_minor(), 9);
  EXPECT_EQ(plugin->author(), "fixture author");
}

TEST(Loader, RefusesMajorVersionMismatchNamingBothVersions) {
  const std::string message = refusal("abi_major_2");
  EXPECT_TRUE(mentions(message, {fixture_file("abi_major_2").string(), "ABI version mismatch",
                                 "ABI 2." + std::to_string(TESSERA_ABI_VERSION_MINOR),
                                 "ABI " + std::to_string(TESSERA_ABI_VERSION_MAJOR) + "." +
                                     std::to_string(TESSERA_ABI_VERSION_MINOR)}));
}

TEST(Loader, RefusesLibraryWithoutEntrySymbol) {
  EXPECT_TRUE(mentions(refusal("no_entry"), {fixture_file("no_entry").string(), "entry symbol 'tessera_plugin_init'"}));
}

TEST(Loader, RefusesNullDescriptor) {
  EXPECT_TRUE(mentions(refusal("null_descriptor"), {fixture_file("null_descriptor").string(), "returned NULL"}));
}

TEST(Loader, RefusesDescriptorTooSmallForVersion) {
  EXPECT_TRUE(mentions(refusal("tiny_struct"), {fixture_file("tiny_struct").string(), "struct_size 4"}));
}

TEST(Loader, RefusesDescriptorSmallerThanAbi10) {
  EXPECT_TRUE(mentions(refusal("short_struct"),
                       {fixture_file("short_struct").string(), "struct_size 64",
                        "minimum " + std::to_string(TESSERA_PLUGIN_DESCRIPTOR_MIN_SIZE)}));
}

TEST(Loader, RefusesKindWithoutItsTable) {
  EXPECT_TRUE(mentions(refusal("missing_table"), {"fixture_missing_table", "sampler table is NULL"}));
}

TEST(Loader, RefusesInvalidName) {
  EXPECT_TRUE(mentions(refusal("bad_name"), {fixture_file("bad_name").string(), "name"}));
}

TEST(Loader, RefusesFileThatIsNotALibrary) {
  const std::string message = refusal("not_a_library");
  EXPECT_TRUE(mentions(message, {fixture_file("not_a_library").string(), "cannot load as a shared library"}));
}

TEST(Loader, RefusesLibraryThatFailsToLoadWithTheLoaderReason) {
  EXPECT_TRUE(mentions(refusal("unresolved"), {fixture_file("unresolved").string(), "cannot load as a shared library",
                                               "fixture_symbol_that_does_not_exist"}));
}

TEST(Loader, RefusesDuplicateNameKeepingTheFirst) {
  PluginRegistry registry;
  registry.discover({fixture_dir("sampler"), fixture_dir("duplicate")});
  ASSERT_EQ(registry.plugins().size(), 1u);
  EXPECT_EQ(registry.plugins().front()->path(), fs::weakly_canonical(fixture_file("sampler")));
  ASSERT_EQ(registry.failures().size(), 1u);
  EXPECT_TRUE(mentions(registry.failures().front().message,
                       {fixture_file("duplicate").string(), "duplicate plugin name 'fixture_sampler'",
                        fixture_file("sampler").string()}));
}

TEST(Loader, SameFileTwiceIsNotADuplicate) {
  PluginRegistry registry;
  registry.discover({fixture_dir("sampler"), fixture_file("sampler"), fixture_dir("sampler") / "."});
  EXPECT_EQ(registry.plugins().size(), 1u);
  EXPECT_TRUE(registry.failures().empty());
}

TEST(Loader, InitializationFailureIsAnErrorNotACrash) {
  PluginRegistry registry;
  registry.discover({fixture_dir("init_fails")});
  tessera::Plugin* plugin = registry.find_mutable("fixture_init_fails");
  ASSERT_NE(plugin, nullptr);
  try {
    plugin->state();
    FAIL() << "initialize failure was not reported";
  } catch (const tessera::Error& e) {
    EXPECT_TRUE(mentions(e.what(), {"fixture_init_fails", "failed to initialize", "no fixture device present"}));
    EXPECT_EQ(e.code(), TESSERA_ERR_DEVICE);
  }
}

TEST(Loader, ScanningEveryBrokenFixtureTogetherNeverCrashes) {
  PluginRegistry registry;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(tessera::test::fixture_plugin_dir())) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  registry.discover(dirs);
  // 10 refusals: 8 broken fixtures, one non-library and one duplicate.
  EXPECT_EQ(registry.failures().size(), 10u);
  EXPECT_GE(registry.plugins().size(), 9u);
}

TEST(Loader, LoadFileThrowsWithTheReason) {
  PluginRegistry registry;
  EXPECT_THROW(registry.load_file(fixture_file("no_entry")), tessera::Error);
  EXPECT_THROW(registry.load_file("/nonexistent/libtessera_x.so"), tessera::Error);
  EXPECT_EQ(registry.load_file(fixture_file("sampler")).name(), "fixture_sampler");
}

TEST(Loader, PluginLogsReachTheHostLogger) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  tessera::logger()->sinks().push_back(sink);
  tessera::set_log_level(spdlog::level::info);
  PluginRegistry registry;
  registry.discover({fixture_dir("filter")});
  registry.find_mutable("fixture_filter")->state();  // its initialize logs one line
  tessera::logger()->sinks().pop_back();
  const auto lines = sink->last_formatted();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("[fixture_filter] fixture initialized"), std::string::npos) << lines.back();
}
