// Writing safetensors files (Hugging Face's tensor container): the tensors
// are declared first so the JSON header with every [begin, end) range can be
// written up front, then their bytes are streamed in declaration order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tessera {

class SafetensorsWriter {
 public:
  // `dtype` as the format spells it: "F16", "I32", ...; `shape` row-major.
  void add_tensor(const std::string& name, const std::string& dtype, const std::vector<uint64_t>& shape);

  // Writes the header; then write() the tensors' bytes in add_tensor order.
  void begin(const std::filesystem::path& path);
  void write(const void* data, uint64_t size);
  // Checks every declared byte was written. Throws tessera::Error.
  void finish();

  uint64_t tensor_bytes(std::size_t index) const { return tensors_.at(index).bytes; }

 private:
  struct Declared {
    std::string name, dtype;
    std::vector<uint64_t> shape;
    uint64_t bytes;
  };
  std::vector<Declared> tensors_;
  std::filesystem::path path_;
  std::ofstream out_;
  uint64_t expected_ = 0, written_ = 0;
};

}  // namespace tessera
