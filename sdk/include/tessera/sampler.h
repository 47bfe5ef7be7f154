/*
 * tessera/sampler.h - sampler plugins: turn logits into the next token.
 *
 * The pipeline's `sampling:` list is a chain: each sampler's `apply` edits
 * the candidate list in order; the last one must select a token (its
 * descriptor sets TESSERA_SAMPLER_SELECTS). State that outlives one token
 * (penalty history, mirostat's mu, the RNG) lives in the tessera_sampler
 * instance and is driven by accept/reset.
 *
 * Ownership: create -> free through the same plugin; candidate arrays are
 * owned by the host and borrowed during `apply`.
 *
 * Thread safety: create is thread-safe. One instance is used by one thread
 * at a time; different instances are independent.
 */
#ifndef TESSERA_SAMPLER_H
#define TESSERA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/host.h"
#include "tessera/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_sampler tessera_sampler; /* opaque, plugin-owned */

/* A fixed-layout value type without struct_size, kept flat so candidate
 * arrays can be sorted in place: see version.h. */
typedef struct tessera_token_candidate {
  int32_t id;
  float logit;
  float p; /* probability; valid only after a sampler sets `normalized` */
} tessera_token_candidate;

typedef struct tessera_candidates {
  size_t struct_size;
  tessera_token_candidate* data; /* host-owned; samplers may reorder/shrink */
  uint64_t size;                 /* samplers may only decrease it */
  int sorted;                    /* 1 when data is sorted by logit, descending */
  int normalized;                /* 1 when every p is the softmax of logits */
  int64_t selected;              /* index into data of the chosen token, -1 */
} tessera_candidates;

/* What a sampler knows about the model when it is created. */
typedef struct tessera_sampler_context {
  size_t struct_size;
  int32_t vocab_size;
  /* Text of token `id` (for DRY's sequence breakers, logit bias by string),
   * NUL-terminated, as generated text would show it; NULL for an id outside
   * 0..vocab_size-1. The function pointer itself is NULL when the host has
   * no vocabulary. The returned string and `vocab` are owned by the host and
   * valid for the sampler's life. Thread-safe: it only reads a table the
   * host built before `create` and never changes, so a sampler may call it
   * from create, apply or any thread of its own, with no lock. */
  const char* (*token_text)(const void* vocab, int32_t id);
  const void* vocab;
} tessera_sampler_context;

enum {
  /* The sampler chooses a token (sets `selected`); a chain must end in one. */
  TESSERA_SAMPLER_SELECTS = 1u << 0
};

typedef struct tessera_sampler_interface {
  size_t struct_size;
  uint32_t flags; /* TESSERA_SAMPLER_* */

  /* `params` is the sampler's YAML node, already validated by the host
   * against the descriptor's parameter specs. */
  tessera_status (*create)(void* plugin_state, const tessera_config* params,
                           const tessera_sampler_context* context,
                           tessera_sampler** out, tessera_error* err);
  tessera_status (*apply)(tessera_sampler* sampler,
                          tessera_candidates* candidates, tessera_error* err);
  /* Tells the sampler which token was finally chosen (by any sampler). */
  void (*accept)(tessera_sampler* sampler, int32_t token);
  /* Back to the state right after create (new sequence). */
  void (*reset)(tessera_sampler* sampler);
  void (*free)(tessera_sampler* sampler);
} tessera_sampler_interface;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_SAMPLER_H */
