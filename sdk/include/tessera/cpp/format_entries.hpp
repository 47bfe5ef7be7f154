// tessera/cpp/format_entries.hpp - optional, format plugins: the entry points
// of tessera_format_interface that only look things up in an opened model.
// They read the same in every plugin whose handle and model look like this:
//
//   struct tessera_model_file { std::unique_ptr<MyModel> model; };
//   MyModel: metadata() with size(), key(i) -> string_view,
//            value(i) -> const tessera_value&, find(key) -> const tessera_value*;
//            tensor_count(), find_tensor(name) -> optional index.
//
// format_interface<File> builds the table from these plus the plugin's own
// probe, open, metadata_array_get, tensor_info, tensor_map and tensor_read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tessera/cpp/abi_struct.hpp"
#include "tessera/cpp/plugin.hpp"
#include "tessera/tessera.h"

namespace tessera::sdk {

// The model behind `file`, else Error "function: file is NULL".
template <class File>
const auto& model_of(const File* file, const char* function) {
  if (file == nullptr || file->model == nullptr)
    throw Error(TESSERA_ERR_INVALID_ARGUMENT, std::string(function) + ": file is NULL");
  return *file->model;
}

// Fills a caller's (possibly older) tessera_value.
inline void fill_value(tessera_value* out, const tessera_value& v, const char* function) {
  fill_struct(out, v, TESSERA_SIZE_THROUGH(tessera_value, as), function);
}

namespace format_entry {

template <class File>
void close(File* file) {
  delete file;
}

template <class File>
uint64_t metadata_count(const File* file) {
  return file != nullptr && file->model != nullptr ? file->model->metadata().size() : 0;
}

template <class File>
tessera_status metadata_at(const File* file, uint64_t index, tessera_string_view* key, tessera_value* value,
                           tessera_error* err) {
  return guarded(err, [&] {
    const auto& meta = model_of(file, "metadata_at").metadata();
    require_arg(key, "metadata_at", "key");
    require_arg(value, "metadata_at", "value");
    if (index >= meta.size())
      throw Error(TESSERA_ERR_OUT_OF_RANGE, "metadata_at: index " + std::to_string(index) + " is outside the " +
                                                std::to_string(meta.size()) + " metadata entries");
    const std::string_view k = meta.key(index);
    fill_value(value, meta.value(index), "metadata_at");
    *key = tessera_string_view{k.data(), k.size()};
  });
}

template <class File>
tessera_status metadata_find(const File* file, const char* key, tessera_value* value, tessera_error* err) {
  return guarded(err, [&] {
    const auto& meta = model_of(file, "metadata_find").metadata();
    require_arg(key, "metadata_find", "key");
    require_arg(value, "metadata_find", "value");
    const tessera_value* v = meta.find(key);
    if (v == nullptr) throw Error(TESSERA_ERR_NOT_FOUND, "metadata key '" + std::string(key) + "' not found");
    fill_value(value, *v, "metadata_find");
  });
}

template <class File>
uint64_t tensor_count(const File* file) {
  return file != nullptr && file->model != nullptr ? file->model->tensor_count() : 0;
}

template <class File>
tessera_status tensor_find(const File* file, const char* name, uint64_t* index, tessera_error* err) {
  return guarded(err, [&] {
    const auto& model = model_of(file, "tensor_find");
    require_arg(name, "tensor_find", "name");
    require_arg(index, "tensor_find", "index");
    const auto found = model.find_tensor(name);
    if (!found) throw Error(TESSERA_ERR_NOT_FOUND, "tensor '" + std::string(name) + "' not found");
    *index = *found;
  });
}

}  // namespace format_entry

// The format table: the shared look-ups above around the plugin's own entry points.
template <class File>
constexpr tessera_format_interface format_interface(decltype(tessera_format_interface::probe) probe_fn,
                                                    decltype(tessera_format_interface::open) open_fn,
                                                    decltype(tessera_format_interface::metadata_array_get) array_get_fn,
                                                    decltype(tessera_format_interface::tensor_info) tensor_info_fn,
                                                    decltype(tessera_format_interface::tensor_map) tensor_map_fn,
                                                    decltype(tessera_format_interface::tensor_read) tensor_read_fn) {
  return tessera_format_interface{sizeof(tessera_format_interface),
                                  probe_fn,
                                  open_fn,
                                  format_entry::close<File>,
                                  format_entry::metadata_count<File>,
                                  format_entry::metadata_at<File>,
                                  format_entry::metadata_find<File>,
                                  array_get_fn,
                                  format_entry::tensor_count<File>,
                                  tensor_info_fn,
                                  format_entry::tensor_find<File>,
                                  tensor_map_fn,
                                  tensor_read_fn};
}

}  // namespace tessera::sdk
