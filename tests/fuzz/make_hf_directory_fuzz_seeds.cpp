// Writes seed inputs for fuzz_hf_directory into the directory given: the
// test writer's tiny GPTQ directories (4-, 3- and 8-bit, act-order, v2
// zeros, quantization_config inside config.json), a float
// checkpoint, a Mistral config with RoPE scaling, and a one-shard index.
#include <cstdio>
#include <filesystem>
#include <string>

#include "hf_directory_fuzz_input.hpp"
#include "safetensors_test_writer.hpp"

int main(int argc, char** argv) {
  using namespace tessera::test::gptq;
  using tessera::test::fuzz::join_hf_directory_input;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  int n = 0;
  auto emit = [&](const TinyGptqDir& d, bool quantize_file = true, const std::string& index = {}) {
    const Bytes st = build_safetensors(d.entries);
    const std::string input = join_hf_directory_input(d.config.dump(), quantize_file ? d.quantize.dump() : "", index,
                                                      std::string(st.begin(), st.end()));
    write_file(dir / ("seed-" + std::to_string(n++)), Bytes(input.begin(), input.end()));
  };

  emit(TinyGptqDir());
  emit(TinyGptqDir(/*act_order=*/true));
  emit(TinyGptqDir(false, 3));
  emit(TinyGptqDir(true, 8));
  {
    TinyGptqDir d;
    d.quantize["checkpoint_format"] = "gptq_v2";
    emit(d);
  }
  {
    TinyGptqDir d;
    d.config["quantization_config"] = d.quantize;
    emit(d, /*quantize_file=*/false);
  }
  {
    TinyGptqDir d;  // float projections, no quantization settings
    for (const auto& [prefix, layer] : d.layers) {
      for (const char* part : {".qweight", ".qzeros", ".scales", ".g_idx"}) d.remove(prefix + part);
      d.entries.push_back({prefix + ".weight", "F16", {layer.out, layer.in}, Bytes(layer.out * layer.in * 2, 0x3c)});
    }
    emit(d, /*quantize_file=*/false);
  }
  {
    TinyGptqDir d;
    d.config["architectures"] = {"MistralForCausalLM"};
    d.config["model_type"] = "mistral";
    d.config["sliding_window"] = 64;
    d.config["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
    emit(d);
  }
  {
    TinyGptqDir d(/*act_order=*/true);
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", nlohmann::json::object()}};
    for (const auto& e : d.entries) index["weight_map"][e.name] = "model-00001-of-00001.safetensors";
    emit(d, true, index.dump());
  }
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}
