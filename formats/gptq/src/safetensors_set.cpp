#include "safetensors_set.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tessera/cpp/plugin.hpp"

namespace tessera::gptq {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void format_error(const fs::path& file, const std::string& what) {
  throw sdk::Error(TESSERA_ERR_FORMAT, file.string() + ": " + what);
}

// Shard names come from the index; they must stay inside the directory.
// NAME_MAX on the file systems models live on.
constexpr std::size_t kMaxFileNameBytes = 255;

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.size() <= kMaxFileNameBytes && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) throw sdk::Error(TESSERA_ERR_IO, index_path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    format_error(index_path, std::string("not valid JSON: ") + e.what());
  }
  if (!index.is_object()) format_error(index_path, "expected a JSON object with a 'weight_map'");
  const auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object() || map->empty())
    format_error(index_path, "field 'weight_map' is missing, empty or not an object; expected {tensor: shard file}");
  std::map<std::string, std::string> out;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it.value().is_string())
      format_error(index_path, "field 'weight_map." + it.key() + "' is not a string; expected a shard file name");
    const std::string shard = it.value().get<std::string>();
    if (!is_plain_file_name(shard))
      format_error(index_path, "field 'weight_map." + it.key() + "' is '" + shard +
                                   "'; expected a file name in the model directory (no '/', at most " +
                                   std::to_string(kMaxFileNameBytes) + " bytes)");
    out[it.key()] = shard;
  }
  return out;
}

}  // namespace

SafetensorsSet::Shard::Shard(const std::string& path)
    : map(path), contents(parse_safetensors(map.data(), map.size(), path)) {}

void SafetensorsSet::add_shard(const fs::path& path) { shards_.push_back(std::make_unique<Shard>(path.string())); }

void SafetensorsSet::index_tensors() {
  for (uint32_t s = 0; s < shards_.size(); ++s)
    for (const StTensor& t : shards_[s]->contents.tensors) {
      if (!by_name_.emplace(t.name, Entry{&t, s}).second)
        format_error(shards_[s]->map.path(), "tensor '" + t.name + "' is also in " +
                                                 shards_[by_name_.at(t.name).shard]->map.path() +
                                                 "; expected each tensor in one shard");
      names_.push_back(t.name);
    }
}

std::unique_ptr<SafetensorsSet> SafetensorsSet::open_file(const fs::path& file) {
  auto set = std::unique_ptr<SafetensorsSet>(new SafetensorsSet());
  set->add_shard(file);
  set->index_tensors();
  return set;
}

std::unique_ptr<SafetensorsSet> SafetensorsSet::open_directory(const fs::path& dir) {
  const fs::path index_path = dir / kIndexFileName;
  if (!fs::exists(index_path)) {
    if (fs::exists(dir / "model.safetensors")) return open_file(dir / "model.safetensors");
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".safetensors") found.push_back(e.path());
    if (found.size() == 1) return open_file(found.front());
    if (found.empty())
      throw sdk::Error(TESSERA_ERR_IO, dir.string() + ": no model.safetensors (or other .safetensors file) found");
    throw sdk::Error(TESSERA_ERR_FORMAT, dir.string() + ": " + std::to_string(found.size()) +
                                             " .safetensors files but no " + kIndexFileName +
                                             "; expected one file or an index naming the shards");
  }
  const auto weight_map = read_weight_map(index_path);
  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : weight_map) shard_names.insert(shard);
  auto set = std::unique_ptr<SafetensorsSet>(new SafetensorsSet());
  for (const std::string& name : shard_names) {
    if (!fs::is_regular_file(dir / name))
      throw sdk::Error(TESSERA_ERR_IO, index_path.string() + ": shard '" + name + "' named in 'weight_map' does not exist");
    set->add_shard(dir / name);
  }
  set->index_tensors();
  // The index and the shards must agree in both directions.
  for (const auto& [tensor, shard] : weight_map) {
    const Entry* e = set->find(tensor);
    if (e == nullptr)
      format_error(index_path, "tensor '" + tensor + "' is mapped to '" + shard + "', which does not contain it");
    if (fs::path(set->shard_path(e->shard)).filename() != shard)
      format_error(index_path, "tensor '" + tensor + "' is mapped to '" + shard + "' but is stored in '" +
                                   fs::path(set->shard_path(e->shard)).filename().string() + "'");
  }
  for (std::string_view name : set->names())
    if (weight_map.find(std::string(name)) == weight_map.end())
      format_error(index_path, "tensor '" + std::string(name) + "' of shard '" +
                                   fs::path(set->shard_path(set->find(name)->shard)).filename().string() +
                                   "' is not listed in 'weight_map'");
  return set;
}

const SafetensorsSet::Entry* SafetensorsSet::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

uint64_t SafetensorsSet::file_offset(const Entry& e) const {
  return shards_.at(e.shard)->contents.data_offset + e.tensor->begin;
}

}  // namespace tessera::gptq
