// C++ error type used inside libtessera; converted to/from tessera_status at
// the plugin boundary.
#pragma once

#include <stdexcept>
#include <string>

#include "tessera/status.h"

namespace tessera {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, tessera_status code = TESSERA_ERR_INVALID_ARGUMENT)
      : std::runtime_error(message), code_(code) {}
  tessera_status code() const noexcept { return code_; }

 private:
  tessera_status code_;
};

// A caller-owned error struct ready to hand to a plugin.
inline tessera_error make_plugin_error() {
  tessera_error err;
  tessera_error_init(&err);
  return err;
}

}  // namespace tessera
