// The GGUF files of the shared data set, for tests parametrized over every
// model: the list and a gtest-safe name for each.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "test_data.hpp"

namespace tessera::test {

// Every *.gguf under $TESSERA_TEST_DATA/models, recursively, relative to it,
// sorted; one empty entry when there is none, so that one test runs and
// skips naming the missing data.
inline std::vector<std::string> model_files() {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  const fs::path root = data_dir() / "models";
  std::error_code ec;
  if (fs::is_directory(root, ec))
    for (const auto& e : fs::recursive_directory_iterator(root, ec))
      if (e.is_regular_file() && e.path().extension() == ".gguf") out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  if (out.empty()) out.push_back("");
  return out;
}

// The parameter as a test name: non-alphanumerics become '_'.
inline std::string model_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param.empty() ? "no_models" : info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

}  // namespace tessera::test
