// llama-perplexity's own numbers for the shared models and texts
// (refs-public/perplexity.json), shared by the CPU and CUDA perplexity tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_data.hpp"

namespace tessera::test {

constexpr double kPerplexityTolerance = 0.005;  // relative, as the references ask

struct PerplexityReference {
  double ppl = 0;
  std::vector<double> running;  // the running value after each chunk
};

// The ctx-256 entry whose model path ends with `model_suffix` and whose text
// path ends with `text`.
inline PerplexityReference perplexity_reference(const std::string& model_suffix, const std::string& text) {
  std::ifstream in(data_dir() / "refs-public/perplexity.json");
  const auto doc = nlohmann::json::parse(in);
  for (const auto& r : doc["results"]) {
    const std::string model = r["model"], data = r["data"];
    if (model.ends_with(model_suffix) && data.ends_with(text) && r["n_ctx"] == 256) {
      PerplexityReference ref{r["ppl"].get<double>(), {}};
      if (r.contains("running_ppl_per_chunk")) ref.running = r["running_ppl_per_chunk"].get<std::vector<double>>();
      return ref;
    }
  }
  throw std::runtime_error("no reference for " + model_suffix + " on " + text);
}

}  // namespace tessera::test
