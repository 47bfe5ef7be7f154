// Writes seed inputs for fuzz_safetensors into the directory given: valid
// files of every dtype and rank, a padded header with __metadata__, a tiny
// GPTQ layer, and a few near-misses (truncated, overlapping offsets).
#include <cstdio>
#include <filesystem>
#include <string>

#include "safetensors_test_writer.hpp"

int main(int argc, char** argv) {
  using namespace tessera::test::gptq;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  int n = 0;
  auto emit = [&](const Bytes& bytes) { write_file(dir / ("seed-" + std::to_string(n++) + ".safetensors"), bytes); };

  const char* dtypes[] = {"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
                          "F8_E4M3", "F8_E5M2"};
  const uint64_t sizes[] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8, 1, 1};
  std::vector<StEntry> all;
  for (size_t i = 0; i < std::size(dtypes); ++i) {
    all.push_back({std::string("t_") + dtypes[i], dtypes[i], {2, 3}, Bytes(6 * sizes[i], static_cast<uint8_t>(i))});
    emit(build_safetensors({all.back()}));
  }
  emit(build_safetensors(all));
  emit(build_safetensors({{"scalar", "F32", {}, Bytes(4, 1)}, {"empty", "F16", {0, 4}, {}}, {"r4", "U8", {1, 2, 1, 2}, Bytes(4, 2)}}));

  nlohmann::json header = safetensors_header(all);
  header["__metadata__"] = {{"format", "pt"}};
  emit(assemble_safetensors(header.dump() + "        ", concat_data(all)));

  std::mt19937 rng(1);
  const GptqLayer layer = GptqLayer::random(64, 32, 4, 32, true, rng);
  emit(build_safetensors(layer.entries("model.layers.0.self_attn.k_proj", true)));

  Bytes truncated = build_safetensors(all);
  truncated.resize(truncated.size() / 2);
  emit(truncated);
  header = safetensors_header(all);
  header["t_U8"]["data_offsets"] = {0, 6};
  emit(assemble_safetensors(header.dump(), concat_data(all)));
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}
