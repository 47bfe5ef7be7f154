#!/usr/bin/env bash
# Installs this build into a scratch prefix, builds the SDK example plugin
# against the installed package only, and checks the installed `tessera`
# lists it and libtessera runs it.
# usage: test_out_of_tree_example.sh BUILD_DIR EXAMPLE_SOURCE_DIR TEST_BINARY CMAKE
set -euo pipefail
build_dir=$1 example_src=$2 test_binary=$3 cmake=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

echo "== install into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" > "$scratch/install.log"
test -f "$prefix/include/tessera/tessera.h"
test -f "$prefix/lib/cmake/tessera/tesseraConfig.cmake"

echo "== configure and build the example out of tree"
# No access to the source tree's headers: only the installed prefix.
"$cmake" -S "$example_src" -B "$scratch/example" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$scratch/configure.log" || { cat "$scratch/configure.log"; exit 1; }
"$cmake" --build "$scratch/example" > "$scratch/build.log" || { cat "$scratch/build.log"; exit 1; }
plugin=$(find "$scratch/example" -name 'libtessera_top_a.so' | head -n1)
test -n "$plugin"
if nm -D --defined-only "$plugin" | grep -v ' tessera_plugin_init$' | grep -q ' T '; then
  echo "the plugin exports more than tessera_plugin_init:"; nm -D --defined-only "$plugin"; exit 1
fi

echo "== the installed tessera lists it"
json=$(TESSERA_PLUGIN_PATH="$scratch/example" "$prefix/bin/tessera" plugins --json)
python3 - "$json" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
names = {p["name"]: p for p in doc["plugins"]}
assert "top_a" in names, f"top_a not listed: {sorted(names)}"
top_a = names["top_a"]
assert top_a["kinds"] == ["sampler"], top_a
assert top_a["params"][0]["name"] == "a" and top_a["params"][0]["range"] == "0 <= a <= 1", top_a
assert doc["refused"] == [], doc["refused"]
print("listed:", ", ".join(sorted(names)))
PY

echo "== libtessera loads and runs it"
TESSERA_EXAMPLE_PLUGIN_DIR="$(dirname "$plugin")" "$test_binary"
