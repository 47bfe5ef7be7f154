// Runs the out-of-tree SDK example (top_a) through libtessera's sampler
// chain. Started by test_out_of_tree_example.sh with the example's build
// directory in TESSERA_EXAMPLE_PLUGIN_DIR.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "test_data.hpp"
#include "tessera/core/config_tree.hpp"
#include "tessera/core/plugin_registry.hpp"
#include "tessera/core/sampler_chain.hpp"

namespace {

std::filesystem::path example_dir() {
  const char* dir = std::getenv("TESSERA_EXAMPLE_PLUGIN_DIR");
  if (dir == nullptr) throw std::runtime_error("TESSERA_EXAMPLE_PLUGIN_DIR is not set");
  return dir;
}

}  // namespace

TEST(SdkExample, TopAFiltersByTheSquareOfTheTopProbability) {
  tessera::PluginRegistry registry;
  registry.discover({example_dir(), tessera::test::fixture_plugin_dir() / "sampler"});
  ASSERT_TRUE(registry.failures().empty()) << registry.failures().front().message;
  const tessera::Plugin* top_a = registry.find("top_a", TESSERA_KIND_SAMPLER);
  ASSERT_NE(top_a, nullptr);
  EXPECT_EQ(top_a->abi_major(), TESSERA_ABI_VERSION_MAJOR);

  // Probabilities 0.5, 0.25, 0.15, 0.1 (logits are their logs). With a = 0.5
  // the threshold is 0.5 * 0.5^2 = 0.125: tokens 0, 1, 2 stay, 3 goes.
  const std::vector<float> logits{std::log(0.5f), std::log(0.25f), std::log(0.15f), std::log(0.1f)};
  tessera::ConfigTree tree(YAML::Load("[{name: top_a, a: 0.5}, {name: fixture_sampler}]"), "inline.yaml", "sampling");
  std::vector<tessera::SamplerEntry> entries{{"top_a", tree.root()->items[0].get(), {}},
                                             {"fixture_sampler", tree.root()->items[1].get(), {}}};
  tessera_sampler_context context{sizeof(tessera_sampler_context), 4, nullptr, nullptr};
  tessera::SamplerChain chain(entries, registry, context);
  EXPECT_EQ(chain.sample(logits), 0);
  ASSERT_EQ(chain.last_candidates().size(), 3u);
  EXPECT_EQ(chain.last_candidates()[2].id, 2);

  // a = 0 keeps everything.
  tessera::ConfigTree keep_all(YAML::Load("[{name: top_a, a: 0}, {name: fixture_sampler}]"), "inline.yaml", "sampling");
  std::vector<tessera::SamplerEntry> entries0{{"top_a", keep_all.root()->items[0].get(), {}},
                                              {"fixture_sampler", keep_all.root()->items[1].get(), {}}};
  tessera::SamplerChain chain0(entries0, registry, context);
  chain0.sample(logits);
  EXPECT_EQ(chain0.last_candidates().size(), 4u);
}
