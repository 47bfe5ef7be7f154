// libFuzzer target over the pipeline front end: YAML parsing, schema
// validation with located diagnostics, the config tree plugins read, and the
// small parsers (layer ranges, op.dtype names, ${VAR} expansion). Any input
// must produce diagnostics or a result, never a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "tessera/core/config_tree.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/layer_range.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tessera::parse_layer_range(text);
  tessera::parse_kernel_override(text);
  try {
    tessera::expand_variables(text);
  } catch (const tessera::Error&) {
  }
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return 0;  // reported as "invalid YAML" with its position by load_pipeline
  }
  tessera::Diagnostics diagnostics;
  tessera::SchemaValidator validator(tessera::Schema::pipeline(), nullptr, "fuzz.yaml", ".");
  validator.validate(document, diagnostics);
  (void)diagnostics.to_string();
  try {
    tessera::ConfigTree tree(document, "fuzz.yaml", "");
    (void)tree.root();
  } catch (const YAML::Exception&) {
  }
  return 0;
}
