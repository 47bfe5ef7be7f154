// The tessera_host_api table libtessera hands to plugins.
#pragma once

#include "tessera/host.h"

namespace tessera {

// The process-wide host API table (static storage, thread-safe functions).
const tessera_host_api* host_api();

}  // namespace tessera
