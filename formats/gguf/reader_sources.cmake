# Sources of the GGUF parser, shared by the reader library here and the
# instrumented copy tests/fuzz builds for libFuzzer.
set(TESSERA_GGUF_READER_DIR ${CMAKE_CURRENT_LIST_DIR}/src)
set(TESSERA_GGUF_READER_SOURCES
  ${TESSERA_GGUF_READER_DIR}/metadata.cpp
  ${TESSERA_GGUF_READER_DIR}/tensor_geometry.cpp
  ${TESSERA_GGUF_READER_DIR}/gguf_reader.cpp
  ${TESSERA_GGUF_READER_DIR}/split_name.cpp
  ${TESSERA_GGUF_READER_DIR}/gguf_model.cpp)
