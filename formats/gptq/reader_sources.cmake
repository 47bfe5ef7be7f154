# Sources of the safetensors / Hugging Face reader, shared by the reader
# library here and the instrumented copy tests/fuzz builds for libFuzzer.
set(TESSERA_GPTQ_READER_DIR ${CMAKE_CURRENT_LIST_DIR}/src)
set(TESSERA_GPTQ_READER_SOURCES
  ${TESSERA_GPTQ_READER_DIR}/safetensors.cpp
  ${TESSERA_GPTQ_READER_DIR}/safetensors_set.cpp
  ${TESSERA_GPTQ_READER_DIR}/hf_config.cpp
  ${TESSERA_GPTQ_READER_DIR}/gptq_layout.cpp
  ${TESSERA_GPTQ_READER_DIR}/metadata_table.cpp
  ${TESSERA_GPTQ_READER_DIR}/hf_model.cpp)
