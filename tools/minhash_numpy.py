"""The peer of `crucible data run` with one MinHash dedup step, for docs/BENCHMARKS.md: a straightforward numpy
MinHash in datasketch's shape, on the same rows and with the same semantics as Crucible's default, so that both
find the same duplicates:

- text: alpaca instruction, input (when not empty) and output joined by newlines;
- shingles: text-dedup's tokens (lowercase, split on regex \\W, empty pieces dropped), word 5-grams joined by a space;
- hash: XXH3-64 seeded with the MinHash seed, low 32 bits (text-dedup's default);
- permutations: datasketch's, numpy RandomState(seed) randint(1, p) then randint(0, p) per permutation,
  ((a * h + b) mod 2^64) mod (2^61 - 1), low 32 bits, minimum over the shingles (uint64 arrays, as datasketch);
- LSH: datasketch's optimal bands/rows for the threshold (14 x 9 for 0.7 and 128), buckets keyed by the bytes of
  each band; in each bucket a row is linked to the first earlier row whose estimated Jaccard reaches the threshold;
  connected components keep their first row.

Signatures are computed by a process pool (--processes, default 2: the machine's cores).

    /work/venv/bin/python tools/minhash_numpy.py /tmp/crucible-bench-recipe/alpaca-1m.jsonl --removed ids.txt
"""
import argparse
import json
import multiprocessing as mp
import resource
import sys
import time

import numpy as np
import regex
import xxhash

MERSENNE = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
NON_WORD = regex.compile(r"\W", regex.UNICODE)
STATE = {}


def init(num_perm, seed, ngram):
    gen = np.random.RandomState(seed)
    ab = np.array([(gen.randint(1, MERSENNE, dtype=np.uint64), gen.randint(0, MERSENNE, dtype=np.uint64))
                   for _ in range(num_perm)], dtype=np.uint64).T
    STATE.update(a=ab[0], b=ab[1], seed=seed, ngram=ngram, num_perm=num_perm)


def signature(line):
    row = json.loads(line)
    parts = [row["instruction"]] + ([row["input"]] if row.get("input") else []) + [row["output"]]
    words = [w for w in NON_WORD.split("\n".join(parts).lower()) if w]
    n = STATE["ngram"]
    if not words:
        return None
    if len(words) < n:
        shingles = {" ".join(words)}
    else:
        shingles = {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}
    seed = STATE["seed"]
    hv = np.array([xxhash.xxh3_64_intdigest(s.encode("utf-8"), seed) & 0xFFFFFFFF for s in shingles], dtype=np.uint64)
    phv = np.bitwise_and((hv[:, None] * STATE["a"] + STATE["b"]) % MERSENNE, MAX_HASH)
    return phv.min(axis=0)


def signatures(lines):
    return [signature(line) for line in lines]


def chunks(path, size):
    batch = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                batch.append(line)
                if len(batch) == size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--ngram", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bands", type=int, default=14)
    ap.add_argument("--rows", type=int, default=9)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--removed", help="write the removed rows' 0-based indices here")
    args = ap.parse_args()

    t0 = time.time()
    sigs = []
    with mp.Pool(args.processes, initializer=init, initargs=(args.num_perm, args.seed, args.ngram)) as pool:
        for part in pool.imap(signatures, chunks(args.data, 2000)):
            sigs.extend(part)
    t1 = time.time()
    n = len(sigs)
    parent = list(range(n))
    for band in range(args.bands):
        start, end = band * args.rows, (band + 1) * args.rows
        buckets = {}
        for i, s in enumerate(sigs):
            if s is not None:
                buckets.setdefault(bytes(s[start:end].byteswap().data), []).append(i)
        for members in buckets.values():
            for j in range(1, len(members)):
                for i in range(j):
                    if np.count_nonzero(sigs[members[i]] == sigs[members[j]]) / args.num_perm >= args.threshold:
                        a, b = find(parent, members[i]), find(parent, members[j])
                        if a != b:
                            parent[max(a, b)] = min(a, b)
                        break
    removed = [i for i in range(n) if sigs[i] is not None and find(parent, i) != i]
    t2 = time.time()
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"rows {n}, removed {len(removed)}")
    print(f"read + signatures: {t1 - t0:.2f} s ({n / (t1 - t0):,.0f} rows/s, {args.processes} processes)")
    print(f"clustering: {t2 - t1:.2f} s ({n / (t2 - t1):,.0f} rows/s)")
    print(f"total: {t2 - t0:.2f} s ({n / (t2 - t0):,.0f} rows/s); peak RSS of the largest process {rss / 1024:,.0f} MiB")
    if args.removed:
        with open(args.removed, "w") as f:
            f.write("\n".join(map(str, removed)) + "\n")


if __name__ == "__main__":
    sys.exit(main())
