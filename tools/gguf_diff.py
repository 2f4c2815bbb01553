#!/usr/bin/env python3
"""Shows where two GGUF files differ: metadata keys (order, type, value), tensor infos, tensor bytes.

    gguf_diff.py A.gguf B.gguf        (needs llama.cpp's gguf-py on PYTHONPATH, or the `gguf` package)
"""
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType


def fields(r):
    out = []
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        t = [x.name for x in f.types]
        v = f.contents()
        out.append((k, t, v))
    return out


def main(a, b):
    ra, rb = GGUFReader(a), GGUFReader(b)
    fa, fb = fields(ra), fields(rb)
    ka, kb = [k for k, _, _ in fa], [k for k, _, _ in fb]
    if ka != kb:
        print("key order differs:")
        print("  only in A:", [k for k in ka if k not in kb])
        print("  only in B:", [k for k in kb if k not in ka])
        common = [k for k in ka if k in kb]
        if [k for k in kb if k in ka] != common:
            print("  A order:", ka)
            print("  B order:", kb)
    db = {k: (t, v) for k, t, v in fb}
    for k, t, v in fa:
        if k in db and (db[k][0] != t or db[k][1] != v):
            tv, vv = db[k]
            if isinstance(v, list) and isinstance(vv, list) and len(v) == len(vv):
                i = next(i for i in range(len(v)) if v[i] != vv[i]) if v != vv else None
                print(f"{k}: type {t} vs {tv}; first difference at [{i}]: {v[i]!r} vs {vv[i]!r}" if i is not None
                      else f"{k}: type {t} vs {tv}")
            else:
                print(f"{k}: {t} {str(v)[:120]!r} vs {tv} {str(vv)[:120]!r}")
    ta = [(t.name, t.tensor_type.name, list(t.shape), int(t.data_offset)) for t in ra.tensors]
    tb = [(t.name, t.tensor_type.name, list(t.shape), int(t.data_offset)) for t in rb.tensors]
    if [t[0] for t in ta] != [t[0] for t in tb]:
        print("tensor order differs:\n  A:", [t[0] for t in ta], "\n  B:", [t[0] for t in tb])
    tbd = {t.name: t for t in rb.tensors}
    for t in ra.tensors:
        u = tbd.get(t.name)
        if u is None:
            continue
        if t.tensor_type != u.tensor_type or list(t.shape) != list(u.shape):
            print(f"{t.name}: {t.tensor_type.name} {list(t.shape)} vs {u.tensor_type.name} {list(u.shape)}")
            continue
        x, y = np.asarray(t.data).view(np.uint8).ravel(), np.asarray(u.data).view(np.uint8).ravel()
        if not np.array_equal(x, y):
            idx = np.nonzero(x != y)[0]
            print(f"{t.name}: {len(idx)} of {len(x)} bytes differ, first at {idx[0]}")
    sa, sb = open(a, "rb").read(), open(b, "rb").read()
    print("identical" if sa == sb else f"files differ ({len(sa)} vs {len(sb)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
