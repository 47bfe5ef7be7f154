#include "tessera/core/decode_bound.hpp"

#include <fmt/format.h>

#include "tessera/core/compute_backend.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/model_file.hpp"
#include "tessera/core/model_params.hpp"

namespace tessera {
namespace {

int32_t kv_dtype(const std::string& name) {
  if (name == "f16") return TESSERA_DTYPE_F16;
  if (name == "f32") return TESSERA_DTYPE_F32;
  if (name == "q8_0") return TESSERA_DTYPE_Q8_0;
  throw Error(fmt::format("unknown KV cache type '{}'; expected f16, f32 or q8_0", name));
}

}  // namespace

DecodeTraffic decode_traffic(const ModelFile& model, const LlamaHyperParams& hp, const std::string& kv_type) {
  DecodeTraffic t;
  const bool tied = model.find_tensor("output.weight") == nullptr;
  for (const TensorInfo& info : model.tensors()) {
    // A lookup reads one row of the embedding, unless it is also the output
    // matrix, which is read whole.
    if (info.name == "token_embd.weight" && !tied && info.dims.size() >= 2 && info.dims[1] > 0)
      t.weight_bytes += info.n_bytes / info.dims[1];
    else
      t.weight_bytes += info.n_bytes;
  }
  const int64_t kv_dim = hp.head_dim() * hp.head_count_kv;
  t.kv_bytes_per_position =
      2 * static_cast<uint64_t>(hp.block_count) * tensor_bytes(kv_dtype(kv_type), {kv_dim});
  return t;
}

double mean_bytes_per_token(const DecodeTraffic& traffic, int64_t n_past, int64_t n) {
  if (n <= 0) return static_cast<double>(traffic.weight_bytes);
  // Positions n_past .. n_past + n - 1 attend to (p + 1) positions each.
  const double first = static_cast<double>(n_past + 1), last = static_cast<double>(n_past + n);
  const double mean_positions = (first + last) / 2.0;
  return static_cast<double>(traffic.weight_bytes) +
         mean_positions * static_cast<double>(traffic.kv_bytes_per_position);
}

double decode_bound_tokens_per_second(double gbs, double bytes_per_token) {
  return gbs > 0 && bytes_per_token > 0 ? gbs * 1e9 / bytes_per_token : 0.0;
}

}  // namespace tessera
