// Loads the built gguf plugin with dlopen and calls it only through its
// descriptor, as the host does: the ABI is what these tests exercise.
#pragma once

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "tessera/tessera.h"
#include "test_data.hpp"

namespace tessera::test::gguf {

class LoadedPlugin {
 public:
  explicit LoadedPlugin(const tessera_host_api* host = nullptr) {
    const std::filesystem::path path = build_plugin_dir() / "libtessera_gguf.so";
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error("dlopen " + path.string() + ": " + ::dlerror());
    auto init = reinterpret_cast<tessera_plugin_init_fn>(::dlsym(handle_, TESSERA_PLUGIN_ENTRY_SYMBOL));
    if (init == nullptr) throw std::runtime_error(path.string() + " lacks " TESSERA_PLUGIN_ENTRY_SYMBOL);
    descriptor_ = init();
    if (descriptor_ == nullptr || descriptor_->format == nullptr)
      throw std::runtime_error(path.string() + ": no format interface");
    if (descriptor_->initialize != nullptr) {
      tessera_error err;
      tessera_error_init(&err);
      if (descriptor_->initialize(host, &state_, &err) != TESSERA_OK)
        throw std::runtime_error(std::string("initialize: ") + err.message);
    }
  }
  ~LoadedPlugin() {
    if (descriptor_ != nullptr && descriptor_->shutdown != nullptr) descriptor_->shutdown(state_);
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  void* handle() const { return handle_; }
  const tessera_plugin_descriptor& descriptor() const { return *descriptor_; }
  const tessera_format_interface& format() const { return *descriptor_->format; }
  void* state() const { return state_; }

  // Opens `path`; returns the status and fills `err`.
  tessera_status open(const std::filesystem::path& path, tessera_model_file** file, tessera_error& err) const {
    tessera_error_init(&err);
    return format().open(state_, path.c_str(), nullptr, file, &err);
  }

 private:
  void* handle_ = nullptr;
  const tessera_plugin_descriptor* descriptor_ = nullptr;
  void* state_ = nullptr;
};

}  // namespace tessera::test::gguf
