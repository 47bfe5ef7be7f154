# The matrix-product kernels of the cuda plugin as a static library, so the
# plugin, tests/cuda/test_cuda_mul_mat and the bench_cuda_mul_mat tool link
# the same objects (compiled once). Included from plugins/cuda/CMakeLists.txt
# with `tessera_cuda_mul_mat` holding the .cu files of this folder. The
# library calls Workspace::reserve (src/workspace.cu), which its users link.
add_library(tessera_cuda_mul_mat STATIC ${tessera_cuda_mul_mat})
target_link_libraries(tessera_cuda_mul_mat PUBLIC tessera::sdk CUDA::cudart CUDA::cublas PRIVATE tessera_warnings)
target_include_directories(tessera_cuda_mul_mat PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
set_target_properties(tessera_cuda_mul_mat PROPERTIES
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  POSITION_INDEPENDENT_CODE ON  # linked into the plugin's shared module
  CUDA_SEPARABLE_COMPILATION OFF)
target_compile_options(tessera_cuda_mul_mat PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr -lineinfo>)
