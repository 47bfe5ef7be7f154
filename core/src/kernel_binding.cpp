#include "tessera/core/kernel_binding.hpp"

#include <fmt/format.h>

#include "tessera/core/error.hpp"
#include "tessera/core/pipeline.hpp"
#include "tessera/core/plugin.hpp"

namespace tessera {

KernelInstance::KernelInstance(Plugin& plugin, const KernelEntry& entry)
    : name_(plugin.name()), api_(plugin.kernel()) {
  if (api_ == nullptr) throw Error(fmt::format("plugin '{}' is not a kernel plugin", plugin.name()));
  tessera_error err = make_plugin_error();
  if (api_->create(plugin.state(), entry.config, &handle_, &err) != TESSERA_OK || handle_ == nullptr)
    throw Error(fmt::format("{}: kernel plugin '{}' could not be created: {}", entry.location.to_string(),
                            plugin.name(), err.message[0] ? err.message : "create returned no instance"),
                err.code != TESSERA_OK ? err.code : TESSERA_ERR_INTERNAL);
}

KernelInstance::~KernelInstance() {
  if (handle_ != nullptr) api_->destroy(handle_);
}

}  // namespace tessera
