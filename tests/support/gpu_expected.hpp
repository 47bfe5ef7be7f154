// TESSERA_EXPECT_GPU=1 (set by scripts/gpu_session.sh on a lent GPU machine):
// a GPU test that finds no CUDA device fails instead of skipping, so a broken
// driver or plugin cannot pass as "everything skipped".
#pragma once

#include <cstdlib>
#include <cstring>

namespace tessera::test {

inline bool gpu_expected() {
  const char* env = std::getenv("TESSERA_EXPECT_GPU");
  return env != nullptr && std::strcmp(env, "1") == 0;
}

}  // namespace tessera::test
