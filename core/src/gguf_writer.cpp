#include "tessera/core/gguf_writer.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"

namespace tessera {

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    throw Error(fmt::format("GGUF alignment must be a power of two, got {}", alignment));
  if (alignment != 32) set("general.alignment", MetadataValue::u32(alignment));
}

void GgufWriter::set(const std::string& key, MetadataValue value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

std::size_t GgufWriter::add_tensor(const std::string& name, int32_t dtype, std::vector<uint64_t> dims) {
  const tessera_dtype_traits traits = tessera_dtype_info(dtype);
  if (traits.block_elements == 0) throw Error(fmt::format("tensor '{}': cannot write dtype {}", name, dtype));
  if (dims.empty() || dims.size() > 4) throw Error(fmt::format("tensor '{}': {} dimensions, expected 1 to 4", name, dims.size()));
  for (uint64_t d : dims)
    if (d == 0) throw Error(fmt::format("tensor '{}': a dimension is 0", name));
  if (dims[0] % traits.block_elements != 0)
    throw Error(fmt::format("tensor '{}': row length {} is not a multiple of the {} block size {}", name, dims[0],
                            traits.name, traits.block_elements));
  uint64_t rows = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
  const uint64_t n_bytes = dims[0] / traits.block_elements * traits.block_bytes * rows;
  tensors_.push_back({name, dtype, std::move(dims), n_bytes, data_size_});
  data_size_ += (n_bytes + alignment_ - 1) / alignment_ * alignment_;
  return tensors_.size() - 1;
}

void GgufWriter::write_string(const std::string& s) {
  put<uint64_t>(s.size());
  out_.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void GgufWriter::write_value(const MetadataValue& v) {
  switch (v.type) {
    case TESSERA_VALUE_UINT8: put<uint8_t>(static_cast<uint8_t>(v.as_int())); break;
    case TESSERA_VALUE_INT8: put<int8_t>(static_cast<int8_t>(v.as_int())); break;
    case TESSERA_VALUE_UINT16: put<uint16_t>(static_cast<uint16_t>(v.as_int())); break;
    case TESSERA_VALUE_INT16: put<int16_t>(static_cast<int16_t>(v.as_int())); break;
    case TESSERA_VALUE_UINT32: put<uint32_t>(static_cast<uint32_t>(v.as_int())); break;
    case TESSERA_VALUE_INT32: put<int32_t>(static_cast<int32_t>(v.as_int())); break;
    case TESSERA_VALUE_UINT64: put<uint64_t>(static_cast<uint64_t>(v.as_int())); break;
    case TESSERA_VALUE_INT64: put<int64_t>(v.as_int()); break;
    case TESSERA_VALUE_FLOAT32: put<float>(static_cast<float>(v.as_double())); break;
    case TESSERA_VALUE_FLOAT64: put<double>(v.as_double()); break;
    case TESSERA_VALUE_BOOL: put<uint8_t>(std::get<bool>(v.value) ? 1 : 0); break;
    case TESSERA_VALUE_STRING: write_string(v.as_string()); break;
    case TESSERA_VALUE_ARRAY:
      put<uint32_t>(static_cast<uint32_t>(v.element_type));
      put<uint64_t>(v.as_array().size());
      for (const auto& item : v.as_array()) {
        if (item.type != v.element_type) throw Error("GGUF arrays must hold elements of one type");
        write_value(item);
      }
      break;
  }
}

void GgufWriter::pad() {
  const auto position = static_cast<uint64_t>(out_.tellp());
  const uint64_t padded = (position + alignment_ - 1) / alignment_ * alignment_;
  for (uint64_t i = position; i < padded; ++i) out_.put('\0');
}

void GgufWriter::begin(const std::filesystem::path& path) {
  path_ = path;
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) throw Error(fmt::format("{}: cannot open for writing", path.string()), TESSERA_ERR_IO);
  out_.write("GGUF", 4);
  put<uint32_t>(3);
  put<uint64_t>(tensors_.size());
  put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    write_string(key);
    put<uint32_t>(static_cast<uint32_t>(value.type));
    write_value(value);
  }
  for (const auto& t : tensors_) {
    write_string(t.name);
    put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) put<uint64_t>(d);
    put<uint32_t>(static_cast<uint32_t>(t.dtype));
    put<uint64_t>(t.offset);
  }
  pad();
  if (!out_) throw Error(fmt::format("{}: write failed", path.string()), TESSERA_ERR_IO);
}

void GgufWriter::write(const void* data, uint64_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    if (current_ >= tensors_.size()) throw Error(fmt::format("{}: more tensor data than declared", path_.string()));
    const Tensor& t = tensors_[current_];
    const uint64_t n = std::min(size, t.n_bytes - written_in_current_);
    out_.write(bytes, static_cast<std::streamsize>(n));
    bytes += n;
    size -= n;
    written_in_current_ += n;
    if (written_in_current_ == t.n_bytes) {
      pad();
      ++current_;
      written_in_current_ = 0;
    }
  }
  if (!out_) throw Error(fmt::format("{}: write failed (disk full?)", path_.string()), TESSERA_ERR_IO);
}

void GgufWriter::finish() {
  if (current_ != tensors_.size())
    throw Error(fmt::format("{}: only {} of {} tensors were written", path_.string(), current_, tensors_.size()));
  out_.close();
  if (!out_) throw Error(fmt::format("{}: closing failed", path_.string()), TESSERA_ERR_IO);
}

}  // namespace tessera
