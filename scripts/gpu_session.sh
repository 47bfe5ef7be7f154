#!/usr/bin/env bash
# GPU checks in one prepared run, for sessions lent a GPU machine (the device
# tool: 15 minutes of device time, 64 MiB carried, no packages there).
#
# Here (2 cores, no GPU), before the first device call:
#   scripts/gpu_session.sh bundle
#     builds build-sm90 (sm_90 only: the GPU tests, tessera, every plugin)
#     and fills .gpu/ (ignored): bundle.tar.xz with the stripped binaries
#     and the non-system shared libraries they load (yaml-cpp, spdlog, fmt,
#     sentencepiece, ...), and shared/, the test data the GPU tests read.
#     Prints the carried size (the working tree travels too: 64 MiB in all).
#
# On the device (run tool, carry [".gpu"]; 10 min per command at most):
#   scripts/gpu_session.sh all q4_0 gptq q4_k q8_0 f16 gptq-act
#                                              the GPU tests, then the benches
#   scripts/gpu_session.sh tests               every GPU test only
#   scripts/gpu_session.sh bench q4_0 f16 ...  synthesise llama2-7b-shaped models
#                                              and bench them on cuda (pp512, tg128,
#                                              at depths 0 and 2048: DEPTHS=0,2048)
# Types: q4_0 q4_k q8_0 f16 gptq gptq-act (GPTQ g128 adds pp2048). Each call
# stops itself after DEADLINE seconds (default 540; run tool timeout_s 600).
# 15 minutes of device time, start-up (1-2 min) included, leave room for ONE
# such call (a second machine cannot start with under 4 minutes left, and a
# warm one is given back after 30 s idle): use `all`, listing the types in
# order of importance; what does not fit before DEADLINE is skipped.
# Results: the run tool brings back 8 files at most, so every log and JSON
# goes to $RES, packed into $OUT/results.tgz after each step (a run cut off
# still brings back what it finished); $OUT/session.log is the summary.
# TESSERA_EXPECT_GPU=1 is set: a GPU test that finds no device fails, it
# does not skip.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=build-sm90
OUT=${OUT:-$ROOT/gpu-out}
RES=${RES:-/tmp/tessera-gpu-results}
mkdir -p "$OUT" "$RES"

log() { echo "== $* ($(date -u +%T))" | tee -a "$OUT/session.log"; }
# $RES (and the summary) -> $OUT/results.tgz, replaced whole.
pack() {
  cp "$OUT/session.log" "$RES/" 2>/dev/null
  tar -czf "$OUT/results.tgz.part" -C "$RES" . && mv -f "$OUT/results.tgz.part" "$OUT/results.tgz"
}
# skips LOG: gtest's skipped tests of LOG into the summary (device-less
# skips fail under TESSERA_EXPECT_GPU; what is left is e.g. two-GPU tests).
skips() {
  local names
  names=$(grep -oE '^\[  SKIPPED \] [A-Za-z0-9_/.]+\.[A-Za-z0-9_/.]+' "$1" 2>/dev/null | sort -u)
  [[ -n $names ]] && { log "$(basename "$1"): $(wc -l <<< "$names") skipped"; head -n 40 <<< "$names" >> "$OUT/session.log"; }
  return 0
}

# Every step gets at most the time left before DEADLINE seconds (default
# 540, under the run tool's 600 s per command), so the script ends, and
# gtest writes its JSON, before the run is cut off.
START=$SECONDS
DEADLINE=${DEADLINE:-540}
# run_for SECONDS CMD...: CMD under `timeout` of SECONDS or what is left.
run_for() {
  local left=$((DEADLINE - (SECONDS - START)))
  (( left > 10 )) || { log "skipped (deadline): $2"; return 124; }
  timeout -k 10 $(( $1 < left ? $1 : left )) "${@:2}"
}

bundle() {
  set -e
  local shared=${TESSERA_TEST_DATA:-$(cd .. && pwd)/shared}
  local targets=(tessera_cli tessera_cpu tessera_cuda tessera_gguf tessera_gptq tessera_fixtures test_cuda
                 test_cuda_mul_mat bench_cuda_mul_mat test_eval test_e2e)
  echo "== configuring and building $BUILD (sm_90 only) ($(date -u +%T))"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_TEST_DATA="$shared" \
    -DTESSERA_CUDA_ARCHITECTURES=90 -DTESSERA_CUDA_SIM=OFF > "$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
  targets+=($(ninja -C "$BUILD" -t targets all | grep -oE '^tessera_sampler_[a-z_0-9]+' | sort -u))
  cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" $(printf -- '--target %s ' "${targets[@]}")
  # What runs there, stripped, in one archive (CUDA fat binaries compress
  # about 10x): the binaries, libtessera, the plugins and test fixtures, and
  # the shared libraries outside glibc and CUDA that they load (the device
  # has its own driver and CUDA 13 toolkit, and no Debian packages).
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/$BUILD/lib" "$stage/.gpu/deps"
  cp -a "$BUILD/bin" "$BUILD/test-fixtures" "$stage/$BUILD/"
  cp -a "$BUILD/lib/tessera" "$BUILD"/lib/libtessera.so* "$stage/$BUILD/lib/"
  find "$stage/$BUILD" -type f -exec strip --strip-unneeded {} + 2>/dev/null || true
  { find "$stage/$BUILD" -type f -exec ldd {} + 2>/dev/null || true; } | awk '/=> \// {print $3}' | sort -u |
    grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda|libcudart|libcublas[^/]*|libnvidia[^/]*)\.so' |
    grep -v "^$ROOT/" | while read -r lib; do cp -L "$lib" "$stage/.gpu/deps/"; done
  echo "$ROOT" > "$stage/.gpu/built_root"  # the path compiled into the binaries
  [[ -d .gpu ]] && chmod -R u+w .gpu  # the shared/ copy is read-only
  rm -rf .gpu && mkdir -p .gpu/shared
  tar -C "$stage" -cJf .gpu/bundle.tar.xz "$BUILD" .gpu
  rm -rf "$stage"
  # The test data the GPU tests read (the pure/ models are for CPU tests).
  (cd "$shared" && tar --exclude=models/stories260K-wide256/pure -cf - .) | (cd .gpu/shared && tar -xf -)
  du -sh .gpu/bundle.tar.xz .gpu/shared
  echo "carried with the working tree: about $(( $(du -sk .gpu | cut -f1) / 1024 + $(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1) / 1024 )) MiB (limit 64)"
  echo "run tool: command 'scripts/gpu_session.sh all q4_0 gptq q4_k q8_0 f16 gptq-act', carry [\".gpu\"], timeout_s 600"
}

# The binaries name $ROOT-as-built paths (TESSERA_BUILD_PLUGIN_DIR, RPATH):
# make this checkout reachable there.
device_paths() {
  # A warm machine keeps ignored files between calls: unpack again whenever
  # the archive is not the one unpacked last.
  local stamp
  stamp=$(sha256sum .gpu/bundle.tar.xz | cut -d' ' -f1)
  # (A real build tree here, with its build.ninja, is used as it is.)
  if [[ ! -f $BUILD/build.ninja && $(cat "$BUILD/.bundle" 2>/dev/null) != "$stamp" ]]; then
    log "unpacking .gpu/bundle.tar.xz"
    rm -rf "$BUILD" && tar -xJf .gpu/bundle.tar.xz && echo "$stamp" > "$BUILD/.bundle"
  fi
  local built
  built=$(cat .gpu/built_root 2>/dev/null)
  if [[ -n $built && $built != "$ROOT" && ! -e $built ]]; then
    mkdir -p "$(dirname "$built")" && ln -s "$ROOT" "$built" && log "linked $built -> $ROOT"
  fi
  export LD_LIBRARY_PATH="$ROOT/.gpu/deps:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export TESSERA_TEST_DATA="$ROOT/.gpu/shared"
  export TESSERA_PLUGIN_PATH=
  export TESSERA_EXPECT_GPU=1
}

machine() {
  log "machine"
  { nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv;
    nproc; free -g; } > "$RES/machine.txt" 2>&1
  cat "$RES/machine.txt" | tee -a "$OUT/session.log"
  if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    log "nvidia-smi lists no GPU: nothing to run"; pack; exit 1
  fi
  if ! "$BUILD/bin/tessera" plugins > "$RES/plugins.txt" 2>&1; then
    log "tessera does not start here; missing libraries:"
    ldd "$BUILD/bin/tessera" "$BUILD/lib/tessera/plugins/libtessera_cuda.so" | grep -E "not found|GLIBC" | tee -a "$OUT/session.log"
    pack; exit 1
  fi
  tee -a "$OUT/session.log" < "$RES/plugins.txt"
  pack
}

tests() {
  log "GPU tests"
  local status=0
  # gtest TIMEOUT NAME BINARY [ARGS...]: one gtest binary, log + JSON in $RES.
  gtest() {
    run_for "$1" "$BUILD/bin/$3" "${@:4}" --gtest_output="json:$RES/$2.json" > "$RES/$2.log" 2>&1 || status=1
    log "$2: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ tests?' "$RES/$2.log" | tr '\n' ' ')"
    skips "$RES/$2.log"
    pack
  }
  gtest 120 test_cuda test_cuda
  gtest 90 test_cuda_mul_mat test_cuda_mul_mat
  # The GPTQ checkpoints end to end (cpu and GPU 0) against refs-public.
  gtest 60 test_e2e_gptq test_e2e --gtest_filter='GptqEndToEnd*'
  grep -E "max (teacher-forced )?logit difference" "$RES/test_e2e_gptq.log" | tee -a "$OUT/session.log"
  gtest 60 test_eval_cuda test_eval --gtest_filter='*Cuda*:*cuda*'
  log "config/ pipelines on the GPU"
  for p in cuda cuda-offload-half; do
    run_for 30 "$BUILD/bin/tessera" run "config/$p.yaml" -p "Once upon a time" -n 48 > "$RES/run-$p.txt" 2>&1 || status=1
    tail -n 2 "$RES/run-$p.txt" | tee -a "$OUT/session.log"
  done
  pack
  return $status
}

# The mat-mul micro-benchmark (per type and shape; after the model benches).
micro_bench() {
  log "mat-mul micro-benchmark"
  run_for 90 "$BUILD/bin/bench_cuda_mul_mat" > "$RES/bench_cuda_mul_mat.txt" 2>&1
  tail -n 30 "$RES/bench_cuda_mul_mat.txt"
  pack
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
        run_for 200 "$BUILD/bin/tessera" synth --shape llama2-7b --format gptq --bits 4 --group-size 128 \
          $([[ $type == gptq-act ]] && echo --act-order) -o "$model" > "$RES/synth-$type.log" 2>&1 ||
          { status=1; rm -rf "$model"; continue; }
        prompts=512,2048 ;;
      *)
        model="$models/llama2-7b-$type.gguf"
        run_for 200 "$BUILD/bin/tessera" synth --shape llama2-7b --type "$type" -o "$model" \
          > "$RES/synth-$type.log" 2>&1 || { status=1; rm -rf "$model"; continue; } ;;
    esac
    printf 'model: { path: "%s" }\ncompute:\n  - { backend: cuda, device: 0, cuda_graphs: true }\ncontext: { size: 4096, batch: 512, kv_type: f16 }\n' \
      "$model" > "$pipe"
    log "bench $type"
    # Depth 2048 as well: decode attention over a long cache (its chunking
    # was chosen without a GPU; see plugins/cuda/README.md "Attention").
    run_for 300 "$BUILD/bin/tessera" bench "$pipe" -p "$prompts" -n 128 -d "${DEPTHS:-0,2048}" -r 3 --json > "$RES/bench-$type.json" \
      2> "$RES/bench-$type.log" || status=1
    tail -n 8 "$RES/bench-$type.log" | tee -a "$OUT/session.log"
    rm -rf "$model"
    pack
  done
  return $status
}

case ${1:-} in
  bundle) bundle ;;
  all) shift; device_paths; machine; tests; t=$?; bench "$@"; b=$?; micro_bench; pack; exit $(( t | b )) ;;
  tests) device_paths; machine; tests ;;
  bench) shift; device_paths; machine; bench "$@" ;;
  *) sed -n '2,33p' "$0"; exit 2 ;;
esac
