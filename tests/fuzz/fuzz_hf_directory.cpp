// libFuzzer target: the whole Hugging Face reader of the gptq format plugin
// (config.json, quantize_config.json, safetensors, GPTQ layouts built on
// read) on a directory written from the input. Any input must either open,
// with every tensor readable at its stated size, or fail with a
// tessera::sdk::Error of a reader's status; anything else (crash,
// ASan/UBSan report, another exception) is a finding.
//
// Input (hf_directory_fuzz_input.hpp): config.json, quantize_config.json
// and model.safetensors.index.json as text, then the safetensors bytes. An
// empty part writes no file. With an index, the safetensors bytes are the
// one shard it may name, model-00001-of-00001.safetensors.
// make_hf_directory_fuzz_seeds writes valid directories in this framing.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

#include "hf_directory_fuzz_input.hpp"
#include "hf_model.hpp"
#include "tessera/cpp/plugin.hpp"

namespace {

namespace fs = std::filesystem;

volatile uint8_t g_sink;

// A fresh directory per input under the temp dir, removed afterwards.
struct ScratchDir {
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "tessera-fuzz-hf-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

void write(const fs::path& path, std::string_view bytes) {
  if (bytes.empty()) return;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) std::abort();
}

bool reader_status(tessera_status s) {
  return s == TESSERA_ERR_FORMAT || s == TESSERA_ERR_UNSUPPORTED || s == TESSERA_ERR_IO || s == TESSERA_ERR_OUT_OF_RANGE;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tessera::gptq::HfModel;
  const ScratchDir scratch;
  const fs::path& dir = scratch.path;
  const tessera::test::fuzz::HfDirectoryParts parts =
      tessera::test::fuzz::split_hf_directory_input(std::string_view(reinterpret_cast<const char*>(data), size));
  write(dir / "config.json", parts.config);
  write(dir / "quantize_config.json", parts.quantize_config);
  write(dir / (parts.index.empty() ? "model.safetensors" : "model-00001-of-00001.safetensors"), parts.safetensors);
  write(dir / "model.safetensors.index.json", parts.index);
  try {
    const auto model = HfModel::open(dir);
    for (uint64_t i = 0; i < model->tensor_count(); ++i) {
      const HfModel::Tensor& t = model->tensor(i);
      if (t.n_bytes > (256u << 20)) std::abort();  // from at most 128 KiB of input (-max_len)
      std::vector<uint8_t> bytes(t.n_bytes);
      model->read(i, 0, bytes.data(), bytes.size());  // builds GPTQ layouts; ASan checks the writes
      if (!bytes.empty()) g_sink = static_cast<uint8_t>(bytes.front() ^ bytes.back());
    }
  } catch (const tessera::sdk::Error& e) {
    if (!reader_status(e.code())) {
      std::fprintf(stderr, "unexpected status %d: %s\n", static_cast<int>(e.code()), e.what());
      std::abort();
    }
  }
  return 0;
}
