#!/usr/bin/env bash
# The CPU benchmarks of docs/benchmarks.md: the stories260K-wide256 ladder and
# llama2-7b-shaped Q4_0 / Q8_0 files (random weights, `tessera synth`), at 1
# and 2 threads, with the default kernels (`auto`) and, as the in-session
# reference, `kernels: avx512` (float activations, the previous default).
#
#   scripts/bench_cpu.sh OUT_DIR [MODEL_DIR]
#
# MODEL_DIR (default OUT_DIR) receives the two 7B files (3.8 and 7.2 GB) if
# they are not there yet. Every run writes JSON to OUT_DIR; `tessera bench`
# prints the markdown tables as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/bench_cpu.sh OUT_DIR [MODEL_DIR]}
models=${2:-$out}
data=${TESSERA_TEST_DATA:-$(cd .. && pwd)/shared}
tessera=${TESSERA:-build/bin/tessera}
mkdir -p "$out" "$models"

pipeline() {  # pipeline FILE MODEL THREADS KERNELS
  cat > "$1" <<YAML
model: { path: "$2" }
compute:
  - { backend: cpu, threads: $3, kernels: $4 }
context: { size: 512, batch: 64, kv_type: f16 }
sampling:
  - { name: greedy }
YAML
}

for type in Q4_0 Q8_0; do
  f="$models/llama2-7b-${type,,}.gguf"
  [[ -f $f ]] || "$tessera" synth --shape llama2-7b --type "$type" -o "$f"
done

# One fresh bandwidth measurement for the whole session.
pipeline "$out/probe.yaml" "$data/models/stories260K.gguf" 2 auto
"$tessera" bench "$out/probe.yaml" -p 0 -n 1 -r 1 --refresh-bandwidth > /dev/null

for threads in 1 2; do
  for kernels in avx512 auto; do
    pipes=()
    for type in q4_0 q8_0; do
      p="$out/7b-$type-t$threads-$kernels.yaml"
      pipeline "$p" "$models/llama2-7b-$type.gguf" "$threads" "$kernels"
      pipes+=("$p")
    done
    "$tessera" bench "${pipes[@]}" -p 64 -n 16 -r 3 --json > "$out/7b-t$threads-$kernels.json"
  done
done

ladder=()
for f in "$data"/models/stories260K-wide256/*.gguf; do
  p="$out/$(basename "$f" .gguf).yaml"
  pipeline "$p" "$f" 1 auto
  ladder+=("$p")
done
for threads in 1 2; do
  "$tessera" bench "${ladder[@]}" -t "$threads" -p 64 -n 64 -r 3 --json > "$out/ladder-t$threads.json"
done
echo "JSON in $out"
