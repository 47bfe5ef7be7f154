#!/usr/bin/env python3
"""Independent reference for tessera's quant code: the `gguf` package's numpy
implementation of the GGUF block formats (PyPI, maintained with llama.cpp).

usage: quant_reference.py dequantize TYPE IN.bin OUT.f32
       quant_reference.py quantize   TYPE IN.f32 OUT.bin
Exit status 3 when the gguf package (or the type in it) is unavailable.
"""
import sys

try:
    import numpy as np
    from gguf import GGMLQuantizationType, quants
except ImportError as e:  # the test skips on this
    print(f"gguf python package unavailable: {e}", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    mode, type_name, src, dst = sys.argv[1:5]
    qtype = GGMLQuantizationType[type_name]
    try:
        if mode == "dequantize":
            raw = np.fromfile(src, dtype=np.uint8).reshape(1, -1)
            out = quants.dequantize(raw, qtype).astype(np.float32)
        else:
            values = np.fromfile(src, dtype=np.float32).reshape(1, -1)
            out = quants.quantize(values, qtype)
    except NotImplementedError as e:
        print(e, file=sys.stderr)
        return 3
    out.tofile(dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
