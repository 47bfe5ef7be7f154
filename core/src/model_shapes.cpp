#include "tessera/core/model_shapes.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/suggest.hpp"

namespace tessera {

int64_t ModelShape::parameter_count() const {
  const int64_t kv_dim = head_dim() * kv_heads;
  const int64_t per_layer = embedding * embedding * 2      // wq, wo
                            + embedding * kv_dim * 2       // wk, wv
                            + embedding * feed_forward * 3 // gate, up, down
                            + embedding * 2;               // two norms
  return vocab_size * embedding * (tied_embeddings ? 1 : 2) + layers * per_layer + embedding;
}

// Published configurations (the models' config.json / GGUF metadata).
const std::vector<ModelShape>& known_model_shapes() {
  static const std::vector<ModelShape> shapes = {
      {"llama2-7b", 32000, 4096, 32, 32, 32, 11008, 4096, 10000.0, 1e-5, false},
      {"llama2-13b", 32000, 5120, 40, 40, 40, 13824, 4096, 10000.0, 1e-5, false},
      {"llama2-70b", 32000, 8192, 80, 64, 8, 28672, 4096, 10000.0, 1e-5, false},
      {"llama3-8b", 128256, 4096, 32, 32, 8, 14336, 8192, 500000.0, 1e-5, false},
      {"mistral-7b", 32000, 4096, 32, 32, 8, 14336, 32768, 1000000.0, 1e-5, false},
      {"stories260k", 512, 64, 5, 8, 4, 172, 2048, 10000.0, 1e-5, false},
      {"stories15m", 32000, 288, 6, 6, 6, 768, 256, 10000.0, 1e-5, true},
      {"stories42m", 32000, 512, 8, 8, 8, 1376, 1024, 10000.0, 1e-5, true},
      {"stories110m", 32000, 768, 12, 12, 12, 2048, 1024, 10000.0, 1e-5, true},
  };
  return shapes;
}

const ModelShape& find_model_shape(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& s : known_model_shapes()) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  throw Error(fmt::format("unknown model shape '{}'{}; known shapes: {}", name, did_you_mean(name, names),
                          quoted_list(names)),
              TESSERA_ERR_NOT_FOUND);
}

}  // namespace tessera
