// Key/value metadata the plugin publishes (GGUF-style names such as
// llama.embedding_length), owned by the open model: strings live as long as
// the table, so the tessera_value records can point into them.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/types.h"

namespace tessera::gptq {

class MetadataTable {
 public:
  void add_string(std::string key, std::string value);
  void add_u32(std::string key, uint32_t value);
  void add_i32(std::string key, int32_t value);
  void add_f32(std::string key, float value);
  void add_bool(std::string key, bool value);

  uint64_t size() const { return entries_.size(); }
  std::string_view key(uint64_t index) const { return entries_.at(index).first; }
  const tessera_value& value(uint64_t index) const { return entries_.at(index).second; }
  const tessera_value* find(std::string_view key) const;  // nullptr when absent

 private:
  void add(std::string key, tessera_value value);
  std::deque<std::string> strings_;  // deque: stable addresses as it grows
  std::vector<std::pair<std::string_view, tessera_value>> entries_;
};

}  // namespace tessera::gptq
