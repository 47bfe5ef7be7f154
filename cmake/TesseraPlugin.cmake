# tessera_add_plugin(<target> SOURCES ... [LIBRARIES ...] [NO_INSTALL] [OUTPUT_DIR dir])
#
# Builds a plugin shared library that depends only on the SDK headers (never
# on libtessera), exports only tessera_plugin_init, and lands in
# <build>/lib/tessera/plugins (installed to <prefix>/lib/tessera/plugins).
function(tessera_add_plugin target)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE tessera::sdk tessera_warnings ${ARG_LIBRARIES})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${TESSERA_PLUGIN_BUILD_DIR})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME ${target}
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  # Inline statics of libstdc++ (e.g. std::to_string's digit table) are
  # exported as GNU "unique" symbols despite hidden visibility; a version
  # script keeps the export list to exactly tessera_plugin_init.
  set(_exports ${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map)
  file(WRITE ${_exports} "{ global: tessera_plugin_init; local: *; };\n")
  target_link_options(${target} PRIVATE -Wl,--version-script=${_exports})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${_exports})
  # A plugin must not rely on symbols of the host: fail at link time.
  if(NOT TESSERA_SANITIZE)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${TESSERA_PLUGIN_SUBDIR} COMPONENT plugins)
  endif()
endfunction()

# Adds every immediate subdirectory that has a CMakeLists.txt: formats/,
# plugins/ and samplers/ hold one plugin per folder, so a new plugin needs no
# edit here.
function(tessera_add_plugin_folders)
  file(GLOB _children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(child ${_children})
    if(EXISTS ${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
