/*
 * tessera/tessera.h - everything a plugin author needs, in one include.
 * All headers in this directory are plain C99 and valid C++.
 */
#ifndef TESSERA_TESSERA_H
#define TESSERA_TESSERA_H

#include "tessera/compute.h"
#include "tessera/format.h"
#include "tessera/gptq.h"
#include "tessera/host.h"
#include "tessera/kernel.h"
#include "tessera/plugin.h"
#include "tessera/sampler.h"
#include "tessera/status.h"
#include "tessera/types.h"
#include "tessera/version.h"

#endif /* TESSERA_TESSERA_H */
