#!/usr/bin/env bash
# tessera set-up: installs the Debian packages the project needs, configures
# and builds, then runs what was asked.
#
#   scripts/setup.sh          install, build, run the main job
#   scripts/setup.sh test     install, build, run the whole test suite
#                             (unit tests, sanitizer build, bounded fuzzing)
#   scripts/setup.sh build    install and build only
#
# Environment: BUILD_DIR (default build), TESSERA_TEST_DATA (default ../shared),
# JOBS (default: number of cores), SKIP_APT=1 to skip package installation.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
export TESSERA_TEST_DATA=${TESSERA_TEST_DATA:-$(cd .. && pwd)/shared}

# Build and run-time dependencies, all from Debian.
packages=(cmake ninja-build g++ pkg-config python3 python3-pip
          libboost-dev libboost-program-options-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libsentencepiece-dev
          nlohmann-json3-dev libgtest-dev libgmock-dev
          libboost-context-dev  # tests/cuda_sim: fibers for the simulated CUDA threads
          clang libclang-rt-14-dev)

install_packages() {
  [[ ${SKIP_APT:-0} == 1 ]] && return
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  echo "== installing: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

# Test-only Python tools from PyPI (independent readers to check against).
install_test_tools() {
  python3 -c "import gguf" 2>/dev/null && return
  echo "== installing the gguf Python package (test reference)"
  python3 -m pip install -q gguf 2>/dev/null || python3 -m pip install -q --break-system-packages gguf ||
    echo "warning: could not install gguf from PyPI; tests that need it will skip"
}

build() {  # build DIR [cmake args...]; BUILD_TARGETS="a b" narrows what is built
  local dir=$1; shift
  echo "== configuring $dir ($(date -u +%T))"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TEST_DATA="$TESSERA_TEST_DATA" "$@" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  echo "== building $dir ($(date -u +%T))"
  local targets=()
  for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
  cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}

install_packages
case $mode in
  build)
    build "$BUILD_DIR"
    ;;
  run)
    build "$BUILD_DIR" -DTESSERA_BUILD_TESTS=OFF
    echo "== plugins"
    "$BUILD_DIR/bin/tessera" plugins
    echo "== example pipelines"
    pipelines=(config/*.yaml)  # config/cuda*.yaml need the cuda plugin (built where nvcc is)
    "$BUILD_DIR/bin/tessera" plugins | grep -q '^cuda ' || mapfile -t pipelines < <(ls config/*.yaml | grep -v '^config/cuda')
    "$BUILD_DIR/bin/tessera" validate "${pipelines[@]}"
    echo "== the model"
    "$BUILD_DIR/bin/tessera" inspect "$TESSERA_TEST_DATA/models/stories260K.gguf" --ctx 512 | head -n 8
    echo "== generating text on the CPU (config/cpu.yaml)"
    "$BUILD_DIR/bin/tessera" run config/cpu.yaml -p "Once upon a time" -n 64
    ;;
  test)
    install_test_tools
    # One CUDA architecture keeps nvcc's share of CI time small (the tests
    # need no GPU: GPU tests skip); release builds keep all four.
    build "$BUILD_DIR" -DTESSERA_CUDA_ARCHITECTURES=90
    echo "== tests ($(date -u +%T))"
    ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 900
    echo "== tests under AddressSanitizer + UBSan"
    build "$BUILD_DIR-asan" -DTESSERA_SANITIZE=ON -DTESSERA_ENABLE_CUDA=OFF
    # Left out under ASan: the out-of-tree SDK builds (they install and build
    # uninstrumented code) and the full-text perplexity runs (minutes of the
    # same kernels the other tests already run instrumented).
    echo "== running the sanitized tests ($(date -u +%T))"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir "$BUILD_DIR-asan" -j "$JOBS" --output-on-failure --timeout 900 \
      -E '^sdk_|ReferencePerplexity\.(F32|Q8_0)Wiki'
    echo "== bounded fuzzing (libFuzzer, clang) ($(date -u +%T))"
    CC=clang CXX=clang++ BUILD_TARGETS="fuzz_gguf_reader fuzz_safetensors fuzz_hf_directory fuzz_pipeline make_gguf_fuzz_seeds make_safetensors_fuzz_seeds make_hf_directory_fuzz_seeds" \
      build "$BUILD_DIR-fuzz" -DTESSERA_BUILD_FUZZERS=ON -DTESSERA_ENABLE_CUDA=OFF
    ctest --test-dir "$BUILD_DIR-fuzz" -j "$JOBS" --output-on-failure -R '^fuzz_'
    echo "== done ($(date -u +%T))"
    ;;
  *)
    echo "usage: scripts/setup.sh [run|test|build]" >&2
    exit 2
    ;;
esac
