#!/usr/bin/env python3
"""Checks files written by `tessera synth` / `tessera quantize` with the
independent `gguf` package (PyPI).

usage: gguf_check.py dump FILE            -> JSON: metadata scalars, array lengths, value types, tensors
       gguf_check.py compare ORIG NEW     -> JSON: relative RMSE of every tensor of NEW vs ORIG
Exit status 3 when the gguf package is unavailable.
"""
import json
import sys

try:
    import numpy as np
    from gguf import GGUFReader, GGUFValueType
    from gguf.quants import dequantize
except ImportError as e:
    print(f"gguf python package unavailable: {e}", file=sys.stderr)
    sys.exit(3)


def field_value(field):
    if field.types[0] == GGUFValueType.ARRAY:
        return {"array_length": len(field.data)}
    part = field.parts[field.data[0]]
    if field.types[0] == GGUFValueType.STRING:
        return bytes(part).decode("utf-8")
    return part.tolist()[0]


def field_type(field):
    """'uint32', 'string', ... as tessera names them; arrays as 'array' plus
    their element type."""
    out = {"type": field.types[0].name.lower()}
    if field.types[0] == GGUFValueType.ARRAY:
        out["element_type"] = field.types[1].name.lower() if len(field.types) > 1 else "unknown"
    return out


def dump(path):
    reader = GGUFReader(path)
    return {
        "metadata": {k: field_value(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")},
        "metadata_types": {k: field_type(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")},
        "tensors": [
            {"name": t.name, "shape": [int(d) for d in t.shape], "type": t.tensor_type.name, "bytes": int(t.n_bytes)}
            for t in reader.tensors
        ],
    }


def values(tensor):
    return dequantize(tensor.data, tensor.tensor_type).astype(np.float64).reshape(-1)


def compare(original, quantized):
    a = {t.name: t for t in GGUFReader(original).tensors}
    out = {}
    for t in GGUFReader(quantized).tensors:
        x, y = values(a[t.name]), values(t)
        out[t.name] = {"type": t.tensor_type.name,
                       "relative_rmse": float(np.sqrt(np.sum((x - y) ** 2) / max(np.sum(x * x), 1e-30)))}
    return out


if __name__ == "__main__":
    result = dump(sys.argv[2]) if sys.argv[1] == "dump" else compare(sys.argv[2], sys.argv[3])
    json.dump(result, sys.stdout)
