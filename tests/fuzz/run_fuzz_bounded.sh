#!/bin/sh
# Runs a libFuzzer target for a bounded time over a fresh corpus directory.
# usage: run_fuzz_bounded.sh FUZZER SECONDS MAX_LEN CORPUS [SEED_GENERATOR|-] [EXTRA_DIR...]
# SEED_GENERATOR (if not "-") is run as `SEED_GENERATOR CORPUS` to write
# seeds. EXTRA_DIRs are read-only seed corpora, skipped when missing; one
# written data:REL is REL under $TESSERA_TEST_DATA (default
# $TESSERA_DEFAULT_TEST_DATA), resolved now, at run time.
set -eu
fuzzer=$1 seconds=$2 max_len=$3 corpus=$4
shift 4
rm -rf "$corpus"
mkdir -p "$corpus"
if [ $# -gt 0 ]; then
  if [ "$1" != - ]; then "$1" "$corpus"; fi
  shift
fi
data=${TESSERA_TEST_DATA:-${TESSERA_DEFAULT_TEST_DATA:-}}
extra=
for dir in "$@"; do
  case $dir in data:*) dir="$data/${dir#data:}" ;; esac
  if [ -d "$dir" ]; then extra="$extra $dir"; else echo "note: seed directory $dir not found, skipped"; fi
done
# -max_len keeps inputs small (large seeds are cut to their first bytes,
# which is where the parsers work); -timeout flags pathological slowness.
# $extra is split on spaces on purpose (one word per directory).
# shellcheck disable=SC2086
exec "$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$corpus" $extra
