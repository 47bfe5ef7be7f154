#include "metadata_table.hpp"

#include "tessera/cpp/plugin.hpp"

namespace tessera::gptq {

void MetadataTable::add(std::string key, tessera_value value) {
  if (find(key) != nullptr) throw sdk::Error(TESSERA_ERR_INTERNAL, "metadata key '" + key + "' published twice");
  value.struct_size = sizeof(tessera_value);
  const std::string& stored = strings_.emplace_back(std::move(key));
  entries_.emplace_back(stored, value);
}

void MetadataTable::add_string(std::string key, std::string text) {
  const std::string& stored = strings_.emplace_back(std::move(text));
  tessera_value v{};
  v.type = TESSERA_VALUE_STRING;
  v.as.s = tessera_string_view{stored.data(), stored.size()};
  add(std::move(key), v);
}

void MetadataTable::add_u32(std::string key, uint32_t value) {
  tessera_value v{};
  v.type = TESSERA_VALUE_UINT32;
  v.as.u = value;
  add(std::move(key), v);
}

void MetadataTable::add_i32(std::string key, int32_t value) {
  tessera_value v{};
  v.type = TESSERA_VALUE_INT32;
  v.as.i = value;
  add(std::move(key), v);
}

void MetadataTable::add_f32(std::string key, float value) {
  tessera_value v{};
  v.type = TESSERA_VALUE_FLOAT32;
  v.as.f = value;
  add(std::move(key), v);
}

void MetadataTable::add_bool(std::string key, bool value) {
  tessera_value v{};
  v.type = TESSERA_VALUE_BOOL;
  v.as.b = value ? 1 : 0;
  add(std::move(key), v);
}

const tessera_value* MetadataTable::find(std::string_view key) const {
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}

}  // namespace tessera::gptq
