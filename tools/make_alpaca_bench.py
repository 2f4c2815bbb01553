"""Alpaca-shaped rows of about 1 KB for the MinHash dedup benchmark (docs/BENCHMARKS.md, Dataset recipe).

Words are drawn from a 50 000-word vocabulary with Zipf-like frequencies (so common openings repeat, like real
instructions); 5% of the rows are exact copies of an earlier row and 5% near copies (3 words replaced).

    python3 tools/make_alpaca_bench.py --rows 1000000 --out /tmp/crucible-bench-recipe/alpaca-1m.jsonl
"""
import argparse
import json
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, size=int(n))) for n in rng.integers(2, 10, size=50_000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    weights /= weights.sum()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    kept = []
    with open(tmp, "w") as f:
        chunk = 10_000
        for start in range(0, args.rows, chunk):
            n = min(chunk, args.rows - start)
            ids = rng.choice(len(vocab), size=(n, 200), p=weights)
            lengths = rng.integers(8, 20, size=n), rng.integers(0, 30, size=n), rng.integers(120, 160, size=n)
            kind = rng.random(n)
            for i in range(n):
                row_id = start + i
                if kind[i] < 0.05 and kept:
                    row = dict(kept[rng.integers(len(kept))])
                elif kind[i] < 0.10 and kept:
                    row = dict(kept[rng.integers(len(kept))])
                    words = row["output"].split(" ")
                    for _ in range(3):
                        words[rng.integers(len(words))] = vocab[rng.integers(len(vocab))]
                    row["output"] = " ".join(words)
                else:
                    w = [vocab[j] for j in ids[i]]
                    a, b, c = lengths[0][i], lengths[1][i], lengths[2][i]
                    row = {"instruction": " ".join(w[:a]).capitalize() + "?",
                           "input": " ".join(w[a:a + b]) if rng.random() < 0.6 else "",
                           "output": " ".join(w[a + b:a + b + c]) + "."}
                    if len(kept) < 50_000:
                        kept.append(row)
                    elif rng.random() < 0.01:
                        kept[rng.integers(len(kept))] = row
                row["id"] = row_id
                f.write(json.dumps(row) + "\n")
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
