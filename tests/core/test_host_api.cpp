// The host API table plugins receive: YAML values through typed accessors
// with located error messages.
#include <gtest/gtest.h>

#include <string>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/host_api.hpp"

namespace {

class HostApiTest : public ::testing::Test {
 protected:
  const tessera_host_api* api = tessera::host_api();
  tessera::ConfigTree tree{YAML::Load("name: top_k\n"
                                      "k: 40\n"
                                      "p: 0.95\n"
                                      "flag: yes\n"
                                      "words: [\"\\n\", \":\", end]\n"
                                      "bias: { 15: -2.5, 7: 1 }\n"
                                      "bad: 12abc\n"),
                           "chat.yaml", "sampling[1]"};
  const tessera_config* root = tree.root();
};

}  // namespace

TEST_F(HostApiTest, DescribesItsOwnVersion) {
  EXPECT_EQ(api->struct_size, sizeof(tessera_host_api));
  EXPECT_EQ(api->abi_major, TESSERA_ABI_VERSION_MAJOR);
  EXPECT_EQ(api->abi_minor, TESSERA_ABI_VERSION_MINOR);
}

TEST_F(HostApiTest, ReadsTypedScalars) {
  int64_t k = 0;
  double p = 0;
  int flag = 0;
  const char* name = nullptr;
  EXPECT_EQ(api->config_as_int(api->config_get(root, "k"), &k, nullptr), TESSERA_OK);
  EXPECT_EQ(api->config_as_double(api->config_get(root, "p"), &p, nullptr), TESSERA_OK);
  EXPECT_EQ(api->config_as_bool(api->config_get(root, "flag"), &flag, nullptr), TESSERA_OK);
  EXPECT_EQ(api->config_as_string(api->config_get(root, "name"), &name, nullptr), TESSERA_OK);
  EXPECT_EQ(k, 40);
  EXPECT_DOUBLE_EQ(p, 0.95);
  EXPECT_EQ(flag, 1);
  EXPECT_STREQ(name, "top_k");
}

TEST_F(HostApiTest, WalksListsAndMaps) {
  EXPECT_EQ(api->config_kind(root), TESSERA_CONFIG_MAP);
  EXPECT_EQ(api->config_size(root), 7u);
  EXPECT_STREQ(api->config_key_at(root, 1), "k");
  const tessera_config* words = api->config_get(root, "words");
  ASSERT_EQ(api->config_kind(words), TESSERA_CONFIG_LIST);
  ASSERT_EQ(api->config_size(words), 3u);
  const char* first = nullptr;
  api->config_as_string(api->config_at(words, 0), &first, nullptr);
  EXPECT_STREQ(first, "\n");
  EXPECT_EQ(api->config_at(words, 3), nullptr);
  const tessera_config* bias = api->config_get(root, "bias");
  EXPECT_STREQ(api->config_key_at(bias, 0), "15");
  double b = 0;
  api->config_as_double(api->config_get(bias, "15"), &b, nullptr);
  EXPECT_DOUBLE_EQ(b, -2.5);
  EXPECT_EQ(api->config_get(root, "absent"), nullptr);
  EXPECT_EQ(api->config_kind(nullptr), TESSERA_CONFIG_MISSING);
  EXPECT_STREQ(api->config_location(words), "chat.yaml:5:8");
}

TEST_F(HostApiTest, TypeMismatchNamesFileLineKeyAndExpectation) {
  int64_t value = 0;
  tessera_error err;
  tessera_error_init(&err);
  EXPECT_EQ(api->config_as_int(api->config_get(root, "bad"), &value, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(err.message, "chat.yaml:7:6: 'sampling[1].bad' must be an integer, got '12abc'");
  EXPECT_EQ(api->config_as_double(api->config_get(root, "words"), nullptr, &err), TESSERA_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err.message).find("got 'a list'"), std::string::npos);
  EXPECT_EQ(api->config_as_bool(nullptr, nullptr, &err), TESSERA_ERR_INVALID_ARGUMENT);
}
