// The memory-traffic model of batch-1 decoding: each new token reads every
// weight once (the embedding only one row) plus the K and V of every
// position so far, so tokens/s <= bandwidth / bytes read per token.
#pragma once

#include <cstdint>
#include <string>

namespace tessera {

class ModelFile;
struct LlamaHyperParams;

struct DecodeTraffic {
  uint64_t weight_bytes = 0;           // weights read per token
  uint64_t kv_bytes_per_position = 0;  // K + V of one position, all layers
};

// `kv_type` as in the pipeline's context.kv_type (f16, f32, q8_0).
DecodeTraffic decode_traffic(const ModelFile& model, const LlamaHyperParams& hp, const std::string& kv_type);

// Mean bytes read per token when `n` tokens are generated one by one after
// `n_past` positions (the token at position p attends to p + 1 positions).
double mean_bytes_per_token(const DecodeTraffic& traffic, int64_t n_past, int64_t n);

// The most tokens/s that `gbs` (1e9 bytes/s) allows at that traffic.
double decode_bound_tokens_per_second(double gbs, double bytes_per_token);

}  // namespace tessera
