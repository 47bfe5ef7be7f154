#include "sampler_harness.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "tessera/core/error.hpp"
#include "test_data.hpp"

namespace tessera::test {

PluginRegistry& sampler_registry() {
  static PluginRegistry* registry = [] {
    auto* r = new PluginRegistry();  // lives as long as the test binary
    r->discover({build_plugin_dir()});
    return r;
  }();
  return *registry;
}

std::vector<double> softmax_of(const std::vector<double>& logits) {
  long double max = -std::numeric_limits<long double>::infinity();
  for (double l : logits) max = std::max<long double>(max, l);
  long double sum = 0;
  for (double l : logits) sum += std::exp(static_cast<long double>(l) - max);
  std::vector<double> p;
  for (double l : logits) p.push_back(static_cast<double>(std::exp(static_cast<long double>(l) - max) / sum));
  return p;
}

static const char* vocab_text(const void* vocab, int32_t id) {
  const auto& texts = static_cast<const Vocab*>(vocab)->texts;
  return id >= 0 && static_cast<std::size_t>(id) < texts.size() ? texts[static_cast<std::size_t>(id)].c_str()
                                                                   : nullptr;
}

tessera_sampler_context Vocab::context() const {
  return {sizeof(tessera_sampler_context), static_cast<int32_t>(texts.size()), vocab_text, this};
}

CandidateList::CandidateList(const std::vector<float>& logits) {
  for (std::size_t i = 0; i < logits.size(); ++i)
    data_.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
  list_ = {sizeof(tessera_candidates), data_.data(), data_.size(), 0, 0, -1};
}

std::vector<int32_t> CandidateList::ids() const {
  std::vector<int32_t> out;
  for (uint64_t i = 0; i < list_.size; ++i) out.push_back(list_.data[i].id);
  return out;
}

float CandidateList::logit_of(int32_t id) const {
  for (uint64_t i = 0; i < list_.size; ++i)
    if (list_.data[i].id == id) return list_.data[i].logit;
  return std::numeric_limits<float>::quiet_NaN();
}

float CandidateList::p_of(int32_t id) const {
  for (uint64_t i = 0; i < list_.size; ++i)
    if (list_.data[i].id == id) return list_.data[i].p;
  return std::numeric_limits<float>::quiet_NaN();
}

static std::string name_in(const std::string& yaml) { return YAML::Load(yaml)["name"].as<std::string>(); }

SamplerInstance::SamplerInstance(const std::string& yaml, int32_t vocab_size, const Vocab* vocab)
    : tree_(YAML::Load(yaml), "test.yaml", "sampling[0]") {
  plugin_ = sampler_registry().find_mutable(name_in(yaml));
  if (plugin_ == nullptr || !plugin_->is(TESSERA_KIND_SAMPLER))
    throw Error("no sampler plugin '" + name_in(yaml) + "' in " + build_plugin_dir().string());
  tessera_sampler_context context = vocab != nullptr
                                        ? vocab->context()
                                        : tessera_sampler_context{sizeof(tessera_sampler_context), vocab_size,
                                                                  nullptr, nullptr};
  tessera_error err;
  tessera_error_init(&err);
  if (plugin_->sampler()->create(plugin_->state(), tree_.root(), &context, &instance_, &err) != TESSERA_OK)
    throw Error(std::string("create failed: ") + err.message);
}

SamplerInstance::~SamplerInstance() {
  if (instance_ != nullptr) plugin_->sampler()->free(instance_);
}

tessera_status SamplerInstance::try_apply(CandidateList& list, std::string* message) {
  tessera_error err;
  tessera_error_init(&err);
  const tessera_status status = plugin_->sampler()->apply(instance_, list.get(), &err);
  if (message != nullptr) *message = err.message;
  return status;
}

void SamplerInstance::apply(CandidateList& list) {
  std::string message;
  ASSERT_EQ(try_apply(list, &message), TESSERA_OK) << message;
}

void SamplerInstance::accept(int32_t token) { plugin_->sampler()->accept(instance_, token); }
void SamplerInstance::reset() { plugin_->sampler()->reset(instance_); }

std::string create_error(const std::string& yaml, int32_t vocab_size) {
  try {
    SamplerInstance instance(yaml, vocab_size);
    return {};
  } catch (const Error& e) {
    return e.what();
  }
}

static std::vector<SamplerEntry> entries_of(const tessera_config* list) {
  std::vector<SamplerEntry> entries;
  for (const auto& item : list->items) {
    std::string name;
    for (const auto& [key, value] : item->entries)
      if (key == "name") name = value->scalar;
    entries.push_back(SamplerEntry{name, item.get(), item->location});
  }
  return entries;
}

ChainFromYaml::ChainFromYaml(const std::string& yaml_list, int32_t vocab_size)
    : tree_(YAML::Load(yaml_list), "test.yaml", "sampling"), entries_(entries_of(tree_.root())) {
  const tessera_sampler_context context{sizeof(tessera_sampler_context), vocab_size, nullptr, nullptr};
  chain_ = std::make_unique<SamplerChain>(entries_, sampler_registry(), context);
}

}  // namespace tessera::test
