#include "tessera/core/model_file.hpp"

#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/plugin_registry.hpp"

namespace tessera {

uint64_t TensorInfo::element_count() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

std::string TensorInfo::shape_text() const {
  std::string out;
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? " x " : "") + std::to_string(dims[i]);
  return out;
}

Plugin* detect_format(const std::filesystem::path& path, PluginRegistry& registry) {
  uint8_t head[64] = {};
  std::size_t head_size = 0;
  if (std::filesystem::is_regular_file(path)) {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(head), sizeof head);
    head_size = static_cast<std::size_t>(in.gcount());
  }
  Plugin* best = nullptr;
  int best_score = 0;
  for (const Plugin* p : registry.plugins()) {
    if (!p->is(TESSERA_KIND_FORMAT) || p->format()->probe == nullptr) continue;
    Plugin* plugin = registry.find_mutable(p->name());
    const int score = plugin->format()->probe(plugin->state(), path.c_str(), head, head_size);
    if (score > best_score) {
      best_score = score;
      best = plugin;
    }
  }
  return best;
}

ModelFile::ModelFile(const std::filesystem::path& path, PluginRegistry& registry, const std::string& format)
    : path_(path) {
  if (!std::filesystem::exists(path)) throw Error(fmt::format("{}: no such file or directory", path.string()), TESSERA_ERR_IO);
  if (format.empty()) {
    plugin_ = detect_format(path, registry);
    if (plugin_ == nullptr)
      throw Error(fmt::format("{}: no format plugin recognises this file (format plugins found: {})", path.string(),
                              fmt::join(registry.names_of_kind(TESSERA_KIND_FORMAT), ", ")),
                  TESSERA_ERR_UNSUPPORTED);
  } else {
    plugin_ = registry.find_mutable(format);
    if (plugin_ == nullptr || !plugin_->is(TESSERA_KIND_FORMAT))
      throw Error(fmt::format("no format plugin named '{}'", format), TESSERA_ERR_NOT_FOUND);
  }
  const tessera_format_interface* f = plugin_->format();
  tessera_error err = make_plugin_error();
  if (f->open(plugin_->state(), path.c_str(), nullptr, &file_, &err) != TESSERA_OK)
    throw Error(err.message[0] ? err.message : fmt::format("{}: the {} plugin could not open it", path.string(),
                                                           plugin_->name()),
                err.code);
  try {
    const uint64_t kv_count = f->metadata_count(file_);
    for (uint64_t i = 0; i < kv_count; ++i) {
      tessera_string_view key{};
      tessera_value value{};
      value.struct_size = sizeof value;
      if (f->metadata_at(file_, i, &key, &value, &err) != TESSERA_OK) throw Error(err.message, err.code);
      metadata_.emplace_back(std::string(key.data, key.size), copy_value(value, 0));
    }
    const uint64_t tensor_count = f->tensor_count(file_);
    for (uint64_t i = 0; i < tensor_count; ++i) {
      tessera_tensor_info info{};
      info.struct_size = sizeof info;
      if (f->tensor_info(file_, i, &info, &err) != TESSERA_OK) throw Error(err.message, err.code);
      TensorInfo t;
      t.name = info.name ? info.name : "";
      t.dtype = info.dtype;
      t.dims.assign(info.dims, info.dims + std::min<uint32_t>(info.n_dims, TESSERA_MAX_DIMS));
      t.n_bytes = info.n_bytes;
      t.file_offset = info.file_offset;
      t.file_index = info.file_index;
      tensors_.push_back(std::move(t));
    }
  } catch (...) {
    f->close(file_);
    throw;
  }
}

ModelFile::~ModelFile() {
  if (file_ != nullptr) plugin_->format()->close(file_);
}

const std::string& ModelFile::format_name() const { return plugin_->name(); }

MetadataValue ModelFile::copy_value(const tessera_value& v, int depth) const {
  if (depth > 8) throw Error(fmt::format("{}: metadata arrays nested deeper than 8 levels", path_.string()), TESSERA_ERR_FORMAT);
  MetadataValue out;
  out.type = v.type;
  switch (v.type) {
    case TESSERA_VALUE_UINT8: case TESSERA_VALUE_UINT16: case TESSERA_VALUE_UINT32: case TESSERA_VALUE_UINT64:
      out.value = v.as.u;
      break;
    case TESSERA_VALUE_INT8: case TESSERA_VALUE_INT16: case TESSERA_VALUE_INT32: case TESSERA_VALUE_INT64:
      out.value = v.as.i;
      break;
    case TESSERA_VALUE_FLOAT32: case TESSERA_VALUE_FLOAT64: out.value = v.as.f; break;
    case TESSERA_VALUE_BOOL: out.value = v.as.b != 0; break;
    case TESSERA_VALUE_STRING: out.value = std::string(v.as.s.data, v.as.s.size); break;
    case TESSERA_VALUE_ARRAY: {
      out.element_type = v.as.array.element_type;
      std::vector<MetadataValue> items;
      items.reserve(v.as.array.count);
      tessera_error err = make_plugin_error();
      for (uint64_t i = 0; i < v.as.array.count; ++i) {
        tessera_value element{};
        element.struct_size = sizeof element;
        if (plugin_->format()->metadata_array_get(file_, &v, i, &element, &err) != TESSERA_OK)
          throw Error(err.message, err.code);
        items.push_back(copy_value(element, depth + 1));
      }
      out.value = std::move(items);
      break;
    }
    default:
      throw Error(fmt::format("{}: metadata value of unknown type {}", path_.string(), static_cast<int>(v.type)),
                  TESSERA_ERR_FORMAT);
  }
  return out;
}

const MetadataValue* ModelFile::find(const std::string& key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

std::optional<int64_t> ModelFile::get_int(const std::string& key) const {
  const MetadataValue* v = find(key);
  if (v == nullptr || !v->is_integer()) return std::nullopt;
  return v->as_int();
}

std::optional<double> ModelFile::get_double(const std::string& key) const {
  const MetadataValue* v = find(key);
  if (v == nullptr || (!v->is_integer() && !std::holds_alternative<double>(v->value))) return std::nullopt;
  return v->as_double();
}

std::optional<std::string> ModelFile::get_string(const std::string& key) const {
  const MetadataValue* v = find(key);
  if (v == nullptr || v->type != TESSERA_VALUE_STRING) return std::nullopt;
  return v->as_string();
}

const TensorInfo* ModelFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const void* ModelFile::map_tensor(std::size_t index) const {
  if (plugin_->format()->tensor_map == nullptr) return nullptr;
  const void* data = nullptr;
  uint64_t size = 0;
  tessera_error err = make_plugin_error();
  if (plugin_->format()->tensor_map(file_, index, &data, &size, &err) != TESSERA_OK) return nullptr;
  return data;
}

std::vector<uint8_t> ModelFile::read_tensor(std::size_t index) const {
  std::vector<uint8_t> bytes;
  read_tensor(index, bytes);
  return bytes;
}

void ModelFile::read_tensor(std::size_t index, std::vector<uint8_t>& out) const {
  const TensorInfo& t = tensors_.at(index);
  out.resize(t.n_bytes);
  if (const void* mapped = map_tensor(index)) {
    std::memcpy(out.data(), mapped, out.size());
    return;
  }
  tessera_error err = make_plugin_error();
  if (plugin_->format()->tensor_read(file_, index, 0, out.data(), out.size(), &err) != TESSERA_OK)
    throw Error(err.message, err.code);
}

}  // namespace tessera
