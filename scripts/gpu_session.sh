#!/usr/bin/env bash
# GPU checks in one prepared run, for sessions lent a GPU machine (the device
# tool: 15 minutes of device time, 64 MiB carried, no packages there).
#
# Here (2 cores, no GPU), before the first device call:
#   scripts/gpu_session.sh bundle
#     builds build-sm90 (sm_90 only, the GPU tests, tessera, every plugin),
#     strips it, and fills .gpu/ (ignored) with the non-system shared
#     libraries the binaries load (yaml-cpp, spdlog, fmt, sentencepiece, ...)
#     and the parts of ../shared the GPU tests read. Prints the carried size.
#
# On the device (run tool, carry [build-sm90/bin, build-sm90/lib, .gpu]):
#   scripts/gpu_session.sh tests               every GPU test, JSON + logs in $OUT
#   scripts/gpu_session.sh bench q4_0 f16 ...  synthesise llama2-7b-shaped models
#                                              and bench them on cuda (pp512, tg128)
#   scripts/gpu_session.sh all                 tests, then bench of every type
# Types: q4_0 q4_k q8_0 f16 gptq gptq-act (GPTQ g128 adds pp2048).
# Each step writes its results as soon as it ends, so a run cut short by the
# time limit still brings back what it finished.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=build-sm90
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"

log() { echo "== $* ($(date -u +%T))" | tee -a "$OUT/session.log"; }

bundle() {
  set -e
  BUILD_TARGETS="tessera_cli tessera_cpu tessera_cuda tessera_gguf tessera_gptq tessera_fixtures test_cuda
    test_cuda_mul_mat bench_cuda_mul_mat test_eval $(ninja -C build -t targets all 2>/dev/null |
    grep -oE '^tessera_sampler_[a-z_0-9]+' | sort -u | tr '\n' ' ')" \
    SKIP_APT=${SKIP_APT:-1} BUILD_DIR=$BUILD scripts/setup.sh build -DTESSERA_CUDA_ARCHITECTURES=90
  # The build tree has absolute paths compiled in (plugin dirs, RPATH); the
  # device run links this checkout to the same path (see `device_paths`).
  find "$BUILD/bin" "$BUILD/lib" "$BUILD/test-fixtures" -type f \( -name '*.so*' -o -perm -u+x \) \
    -exec strip --strip-unneeded {} + 2>/dev/null || true
  rm -rf .gpu && mkdir -p .gpu/deps .gpu/shared
  # Libraries outside glibc and CUDA (the device has its own driver and CUDA
  # 13 toolkit, and no Debian packages).
  find "$BUILD/bin" "$BUILD/lib" -type f \( -name '*.so*' -o -perm -u+x \) -exec ldd {} + 2>/dev/null |
    awk '/=> \// {print $3}' | sort -u |
    grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda|libcudart|libcublas[^/]*|libnvidia[^/]*)\.so' |
    grep -v "^$ROOT/" | while read -r lib; do cp -L "$lib" .gpu/deps/; done
  # The test data the GPU tests read (the pure/ models are for CPU tests).
  local shared=${TESSERA_TEST_DATA:-$(cd .. && pwd)/shared}
  (cd "$shared" && tar --exclude=models/stories260K-wide256/pure -cf - .) | (cd .gpu/shared && tar -xf -)
  grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  du -sh .gpu/deps .gpu/shared "$BUILD/bin" "$BUILD/lib" "$BUILD/test-fixtures"
  local total
  total=$(du -scm .gpu "$BUILD/bin" "$BUILD/lib" "$BUILD/test-fixtures" $(git ls-files) 2>/dev/null | tail -1 | cut -f1)
  echo "carried with the working tree: about $total MiB (limit 64)"
  echo "run tool: command 'scripts/gpu_session.sh all', carry [\"$BUILD/bin\", \"$BUILD/lib\", \"$BUILD/test-fixtures\", \".gpu\"]"
}

# The binaries name $ROOT-as-built paths (TESSERA_BUILD_PLUGIN_DIR, RPATH):
# make this checkout reachable there.
device_paths() {
  local built
  built=$(grep -aoE '/[^ "]*/'"$BUILD"'/lib/tessera/plugins' "$BUILD/bin/test_cuda" | head -1)
  built=${built%/$BUILD/lib/tessera/plugins}
  if [[ -n $built && $built != "$ROOT" && ! -e $built ]]; then
    mkdir -p "$(dirname "$built")" && ln -s "$ROOT" "$built" && log "linked $built -> $ROOT"
  fi
  export LD_LIBRARY_PATH="$ROOT/.gpu/deps:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export TESSERA_TEST_DATA="$ROOT/.gpu/shared"
  export TESSERA_PLUGIN_PATH=
}

machine() {
  log "machine"
  { nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv;
    nproc; free -g; } > "$OUT/machine.txt" 2>&1
  cat "$OUT/machine.txt"
  if ! "$BUILD/bin/tessera" plugins > "$OUT/plugins.txt" 2>&1; then
    log "tessera does not start here; missing libraries:"
    ldd "$BUILD/bin/tessera" "$BUILD/lib/tessera/plugins/libtessera_cuda.so" | grep -E "not found|GLIBC" | tee -a "$OUT/session.log"
    exit 1
  fi
  cat "$OUT/plugins.txt"
}

tests() {
  log "GPU tests"
  local status=0
  for t in test_cuda test_cuda_mul_mat; do
    timeout 300 "$BUILD/bin/$t" --gtest_output="json:$OUT/$t.json" > "$OUT/$t.log" 2>&1 || status=1
    tail -n 3 "$OUT/$t.log"
  done
  timeout 300 "$BUILD/bin/test_eval" --gtest_filter='*Cuda*:*cuda*' --gtest_output="json:$OUT/test_eval_cuda.json" \
    > "$OUT/test_eval_cuda.log" 2>&1 || status=1
  tail -n 3 "$OUT/test_eval_cuda.log"
  log "mat-mul micro-benchmark"
  timeout 120 "$BUILD/bin/bench_cuda_mul_mat" > "$OUT/bench_cuda_mul_mat.txt" 2>&1 || status=1
  tail -n 30 "$OUT/bench_cuda_mul_mat.txt"
  log "config/ pipelines on the GPU"
  for p in cuda cuda-offload-half; do
    timeout 60 "$BUILD/bin/tessera" run "config/$p.yaml" -p "Once upon a time" -n 48 > "$OUT/run-$p.txt" 2>&1 || status=1
    tail -n 2 "$OUT/run-$p.txt"
  done
  return $status
}

# bench TYPE...: one llama2-7b-shaped model at a time (disk and time), each
# fully on GPU 0, pp512 and tg128 (GPTQ also pp2048), JSON per type.
bench() {
  local models=${MODELS_DIR:-/tmp/tessera-models} status=0
  mkdir -p "$models"
  for type in "$@"; do
    local model pipe="$models/$type.yaml" prompts=512
    log "synth llama2-7b $type"
    case $type in
      gptq | gptq-act)
        model="$models/llama2-7b-$type"
        timeout 300 "$BUILD/bin/tessera" synth --shape llama2-7b --format gptq --bits 4 --group-size 128 \
          $([[ $type == gptq-act ]] && echo --act-order) -o "$model" > "$OUT/synth-$type.log" 2>&1 || { status=1; continue; }
        prompts=512,2048 ;;
      *)
        model="$models/llama2-7b-$type.gguf"
        timeout 300 "$BUILD/bin/tessera" synth --shape llama2-7b --type "$type" -o "$model" \
          > "$OUT/synth-$type.log" 2>&1 || { status=1; continue; } ;;
    esac
    printf 'model: { path: "%s" }\ncompute:\n  - { backend: cuda, device: 0, cuda_graphs: true }\ncontext: { size: 4096, batch: 512, kv_type: f16 }\n' \
      "$model" > "$pipe"
    log "bench $type"
    timeout 400 "$BUILD/bin/tessera" bench "$pipe" -p "$prompts" -n 128 -r 3 --json > "$OUT/bench-$type.json" \
      2> "$OUT/bench-$type.log" || status=1
    tail -n 5 "$OUT/bench-$type.log"
    rm -rf "$model"
  done
  return $status
}

case ${1:-} in
  bundle) bundle ;;
  tests) device_paths; machine; tests ;;
  bench) shift; device_paths; machine; bench "$@" ;;
  all) device_paths; machine; tests; bench q4_0 q8_0 q4_k f16 gptq gptq-act ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
