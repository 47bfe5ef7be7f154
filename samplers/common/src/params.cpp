#include "tessera/samplers/params.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace tessera::samplers {

std::string Params::where(const char* key) const {
  if (host_ == nullptr || host_->config_location == nullptr || node_ == nullptr) return {};
  const tessera_config* at = host_->config_get != nullptr ? host_->config_get(node_, key) : nullptr;
  const char* text = host_->config_location(at != nullptr ? at : node_);
  return text != nullptr && *text != '\0' ? std::string(text) + ": " : std::string();
}

// Same form as the host's messages: "0 <= p <= 1", "k >= 0", "n > 0".
static std::string range_text(const tessera_param_spec& spec) {
  std::ostringstream out;
  const bool lo = std::isfinite(spec.min_value), hi = std::isfinite(spec.max_value);
  const bool lo_open = (spec.flags & TESSERA_PARAM_MIN_EXCLUSIVE) != 0;
  const bool hi_open = (spec.flags & TESSERA_PARAM_MAX_EXCLUSIVE) != 0;
  if (lo && hi) {
    out << spec.min_value << (lo_open ? " < " : " <= ") << spec.name << (hi_open ? " < " : " <= ") << spec.max_value;
  } else if (lo) {
    out << spec.name << (lo_open ? " > " : " >= ") << spec.min_value;
  } else if (hi) {
    out << spec.name << (hi_open ? " < " : " <= ") << spec.max_value;
  }
  return out.str();
}

double Params::checked(const tessera_param_spec& spec, double value) const {
  const bool below = std::isfinite(spec.min_value) &&
                     ((spec.flags & TESSERA_PARAM_MIN_EXCLUSIVE) ? !(value > spec.min_value) : !(value >= spec.min_value));
  const bool above = std::isfinite(spec.max_value) &&
                     ((spec.flags & TESSERA_PARAM_MAX_EXCLUSIVE) ? !(value < spec.max_value) : !(value <= spec.max_value));
  if (below || above || std::isnan(value)) {
    std::ostringstream message;
    message << where(spec.name) << "'" << spec.name << "' is " << value << ", out of range: expected "
            << range_text(spec);
    throw sdk::Error(TESSERA_ERR_OUT_OF_RANGE, message.str());
  }
  return value;
}

static double spec_default(const tessera_param_spec& spec) {
  if (spec.default_value == nullptr)
    throw sdk::Error(TESSERA_ERR_INVALID_ARGUMENT, std::string("missing required parameter '") + spec.name + "'");
  return std::strtod(spec.default_value, nullptr);
}

double Params::get_float(const tessera_param_spec& spec) const {
  return checked(spec, config_.get_double(spec.name).value_or(spec_default(spec)));
}

int64_t Params::get_int(const tessera_param_spec& spec) const {
  if (auto v = config_.get_int(spec.name)) {
    checked(spec, static_cast<double>(*v));
    return *v;
  }
  return static_cast<int64_t>(checked(spec, spec_default(spec)));
}

std::vector<std::string> Params::get_string_list(const tessera_param_spec& spec,
                                                 std::vector<std::string> fallback) const {
  if (!config_.has(spec.name)) return fallback;
  return config_.get_string_list(spec.name);
}

std::vector<std::pair<std::string, double>> Params::get_number_map(const tessera_param_spec& spec) const {
  return config_.get_number_map(spec.name);
}

}  // namespace tessera::samplers
