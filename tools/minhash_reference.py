"""Reference values for Crucible's MinHash dedup (testdata/recipe/minhash_reference.json).

Runs the real tools: datasketch (MinHash, the LSH band/row choice) from a checkout on PYTHONPATH, the Python
xxhash package (XXH3-64, text-dedup's default shingle hash) and text-dedup's tokenisation rule (lowercase,
split on the `regex` module's \\W, drop empty tokens, word n-grams joined by one space, as in
text_dedup/config/algorithms/minhash.py and utils/tokenization.py).

    PYTHONPATH=/work/peers/datasketch /work/venv/bin/python tools/minhash_reference.py testdata/recipe/minhash_reference.json
"""
import json
import sys

import numpy as np
import regex
import xxhash
from datasketch import MinHash
from datasketch.lsh import _optimal_param

NON_WORD = regex.compile(r"\W", regex.UNICODE)


def words(text):
    return [t for t in NON_WORD.split(text.lower()) if t]


def shingles(text, n):
    # text-dedup's ngrams(): fewer words than n gives one shingle of them all (min_length aside)
    ws = words(text)
    if not ws:
        return []
    if len(ws) < n:
        return [" ".join(ws).encode("utf-8")]
    return sorted({" ".join(ws[i:i + n]).encode("utf-8") for i in range(len(ws) - n + 1)})


def main(out):
    rng = np.random.RandomState(7)
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
             "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]
    texts = [
        "The quick brown fox jumps over the lazy dog, again and again!",
        "Écrire un poème sur l'été: «soleil», mer_bleue et 42 vagues; naïve café.",
        "日本語のテキスト と English words mixed_with under_scores and digits 12345",
        "short one",
        "",
        " ".join(vocab[i] for i in rng.randint(0, len(vocab), size=300)),
    ]
    data = bytes((i * 31 + 7) % 251 for i in range(4096))
    lengths = list(range(0, 260)) + [300, 511, 512, 1023, 1024, 1025, 2048, 3000, 4096]
    seeds = [0, 1, 42, (1 << 40) + 123, (1 << 64) - 1]
    xxh3 = {str(s): [format(xxhash.xxh3_64_intdigest(data[:n], s), "016x") for n in lengths] for s in seeds}

    perms = {}
    for seed in [1, 42]:
        a, b = MinHash(num_perm=16, seed=seed).permutations
        perms[str(seed)] = {"a": [str(int(x)) for x in a], "b": [str(int(x)) for x in b]}

    signatures = []
    for seed in [1, 42]:
        for hash_name in ["sha1", "xxh3"]:
            for ngram in [1, 5]:
                for text in texts:
                    if hash_name == "sha1":
                        m = MinHash(num_perm=128, seed=seed)
                    else:
                        m = MinHash(num_perm=128, seed=seed,
                                    hashfunc=lambda b, s=seed: xxhash.xxh3_64_intdigest(b, s) & 0xFFFFFFFF)
                    sh = shingles(text, ngram)
                    if sh:
                        m.update_batch(sh)
                    signatures.append({"seed": seed, "hash": hash_name, "ngram": ngram, "text": text,
                                       "signature": [int(v) for v in m.hashvalues]})

    tokens = [{"text": t, "words": words(t)} for t in texts[:3]]

    bands = []
    for num_perm in [16, 64, 128, 256]:
        for threshold in [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]:
            b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
            bands.append({"threshold": threshold, "num_perm": num_perm, "bands": b, "rows": r})

    with open(out, "w") as f:
        json.dump({"lengths": lengths, "data_rule": "(i * 31 + 7) % 251", "xxh3_64": xxh3, "permutations": perms,
                   "signatures": signatures, "words": tokens, "lsh": bands}, f, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
