#!/usr/bin/env python3
"""Dumps what the independent `gguf` package (PyPI) reads from a GGUF file,
as the reference the C++ reader is compared against (tests/gguf).

usage: dump_gguf_reference.py --out OUT.json FILE.gguf

JSON: {"version", "alignment", "data_offset",
       "metadata": [{"key", "type", "value"} or
                    {"key", "type": 9, "element_type", "length", "elements"}],
       "tensors": [{"name", "dims", "type", "offset", "n_bytes", "crc32"}]}
Strings that are not valid UTF-8 are written as {"hex": "..."}; non-finite
floats as {"float": "nan" | "inf" | "-inf"}. Exit status 3 when python's
gguf or numpy package is unavailable.
"""
import argparse
import json
import math
import sys
import zlib

try:
    import numpy as np
    from gguf import GGUFReader, GGUFValueType
except ImportError as e:
    print(f"gguf python package unavailable: {e}", file=sys.stderr)
    sys.exit(3)


def text(raw):
    raw = bytes(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}


def number(x):
    if isinstance(x, float) and not math.isfinite(x):
        return {"float": repr(x)}
    return x


def field_entry(field):
    kind = field.types[0]
    entry = {"key": field.name, "type": int(kind)}
    if kind == GGUFValueType.ARRAY:
        sub = field.types[-1]
        entry["element_type"] = int(field.types[1])
        if len(field.types) > 2:
            entry["nested"] = True  # the package flattens nested arrays
            return entry
        entry["length"] = len(field.data)
        if sub == GGUFValueType.STRING:
            entry["elements"] = [text(field.parts[i]) for i in field.data]
        else:
            entry["elements"] = [number(v) for i in field.data for v in field.parts[i].tolist()]
        return entry
    if kind == GGUFValueType.STRING:
        entry["value"] = text(field.parts[-1])
    else:
        entry["value"] = number(field.parts[-1].tolist()[0])
    return entry


def dump(path):
    reader = GGUFReader(path)
    version = int(reader.fields["GGUF.version"].parts[-1][0])
    metadata = [field_entry(f) for name, f in reader.fields.items() if not name.startswith("GGUF.")]
    tensors = []
    for t in reader.tensors:
        raw = np.ascontiguousarray(t.data).view(np.uint8)
        tensors.append({
            "name": t.name,
            "dims": [int(d) for d in t.shape],
            "type": int(t.tensor_type),
            "offset": int(t.data_offset),
            "n_bytes": int(t.n_bytes),
            "crc32": zlib.crc32(raw.tobytes()) & 0xFFFFFFFF,
        })
    return {"version": version, "alignment": int(reader.alignment), "data_offset": int(reader.data_offset),
            "metadata": metadata, "tensors": tensors}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("file")
    args = parser.parse_args()
    result = dump(args.file)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
