#include "gguf_model.hpp"

#include <string>

#include "split_name.hpp"

namespace tessera::gguf {

namespace {

[[noreturn]] void fail(const std::string& file, const std::string& message) {
  throw sdk::Error(TESSERA_ERR_FORMAT, file + ": " + message);
}

}  // namespace

GgufModel::Part::Part(const std::string& path)
    : map(path, "a .gguf file"), contents(parse_gguf(map.data(), map.size(), path)) {}

void GgufModel::add_part(std::unique_ptr<Part> part) {
  const auto file_index = static_cast<uint32_t>(parts_.size());
  tensors_.reserve(tensors_.size() + part->contents.tensors.size());
  for (const TensorRecord& t : part->contents.tensors) {
    const uint64_t file_offset = part->contents.data_offset + t.offset;
    const auto [it, inserted] = by_name_.emplace(t.name, tensors_.size());
    if (!inserted) {
      const Tensor& first = tensors_[it->second];
      fail(part->map.path(), "tensor '" + t.name + "' is also in part " + std::to_string(first.file_index + 1) +
                                 " (" + parts_[first.file_index]->map.path() + "), expected unique tensor names");
    }
    tensors_.push_back(Tensor{&t, file_index, file_offset, part->map.data() + file_offset});
  }
  parts_.push_back(std::move(part));
}

std::unique_ptr<GgufModel> GgufModel::open(const std::string& path, const sdk::Log& log) {
  std::unique_ptr<GgufModel> model(new GgufModel());
  model->add_part(std::make_unique<Part>(path));
  const Metadata& meta = model->metadata();

  uint64_t count = 1;
  uint64_t number = 0;
  const bool has_count = meta.get_unsigned(kSplitCount, count, path);
  meta.get_unsigned(kSplitNo, number, path);
  if (has_count && (count == 0 || count > 99999))
    fail(path, "metadata 'split.count' is " + std::to_string(count) + ", expected 1..99999");
  if (number >= count)
    fail(path, "metadata 'split.no' is " + std::to_string(number) + ", expected 0.." + std::to_string(count - 1) +
                   " (split.count is " + std::to_string(count) + ")");

  if (count > 1) {
    const auto name = parse_split_name(path);
    const auto n = static_cast<uint32_t>(count);
    if (number != 0)
      fail(path, "is part " + std::to_string(number + 1) + " of " + std::to_string(count) +
                     " of a split model; open the first part" +
                     (name ? " (" + split_part_path(name->prefix, 1, n) + ")" : std::string()));
    if (!name || name->count != n || name->number != 1)
      fail(path, "split.count is " + std::to_string(count) +
                     " but the file name does not follow NAME-00001-of-" + split_part_path("", n, n).substr(10) +
                     ", so the other parts cannot be found");
    for (uint32_t i = 1; i < n; ++i) {
      const std::string part_path = split_part_path(name->prefix, i + 1, n);
      auto part = std::make_unique<Part>(part_path);
      uint64_t part_no = 0;
      uint64_t part_count = 0;
      if (!part->contents.metadata.get_unsigned(kSplitNo, part_no, part_path) || part_no != i)
        fail(part_path, "metadata 'split.no' is " +
                            (part->contents.metadata.find(kSplitNo) ? std::to_string(part_no) : "missing") +
                            ", expected " + std::to_string(i) + " (part " + std::to_string(i + 1) + " of " +
                            std::to_string(n) + ")");
      if (!part->contents.metadata.get_unsigned(kSplitCount, part_count, part_path) || part_count != n)
        fail(part_path, "metadata 'split.count' is " +
                            (part->contents.metadata.find(kSplitCount) ? std::to_string(part_count) : "missing") +
                            ", expected " + std::to_string(n) + " as in " + path);
      model->add_part(std::move(part));
    }
    log.info(path + ": split model of " + std::to_string(n) + " parts, " +
             std::to_string(model->tensor_count()) + " tensors");
  }

  uint64_t expected_tensors = 0;
  if (meta.get_unsigned(kSplitTensorsCount, expected_tensors, path) && expected_tensors != model->tensor_count())
    fail(path, "metadata 'split.tensors.count' is " + std::to_string(expected_tensors) + " but the " +
                   std::to_string(model->part_count()) + " part(s) hold " + std::to_string(model->tensor_count()) +
                   " tensors");
  log.debug(path + ": GGUF v" + std::to_string(model->version()) + ", " + std::to_string(model->tensor_count()) +
            " tensors, " + std::to_string(meta.size()) + " metadata entries, alignment " +
            std::to_string(model->parts_.front()->contents.alignment));
  return model;
}

const GgufModel::Tensor& GgufModel::tensor(uint64_t index) const {
  if (index >= tensors_.size())
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, "tensor index " + std::to_string(index) + " is outside 0.." +
                                                   std::to_string(tensors_.size()) + " (exclusive)");
  return tensors_[index];
}

std::optional<uint64_t> GgufModel::find_tensor(std::string_view name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tessera::gguf
