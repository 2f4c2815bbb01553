"""mergekit reference hashes for the selection methods (ties, breadcrumbs, sce) on tensors of millions of entries.

At real sizes bf16 deltas tie a lot at the top-k cut, and which tied entries survive is decided by the order in
which torch's CPU sort/topk leave equal keys. The small fixtures in testdata/mergekit never reach the sizes where a
shortcut (taking ties by index) shows, so this script checks the large case without storing large files:

1. It writes four Llama checkpoints (base, ft1..ft3) with the values of Crucible's own generator
   (dev.crucible.merge.SyntheticModels.write, ported here bit for bit: java.util.SplittableRandom seeded by
   (seed, String.hashCode of the tensor name), an Irwin-Hall approximate normal, float32 arithmetic, bf16 round
   to nearest even), so the Java test regenerates identical inputs from the seeds alone.
2. It runs upstream mergekit-yaml on every config in configs/ (unmodified mergekit, torch CPU).
3. It runs each case a second time in-process with torch's sort/topk replaced by stable (index-order) versions:
   the entries where that output differs from mergekit's are exactly those decided by torch's tie order.
4. It writes expected.json: the generator's parameters and the SHA-256 of every input tensor, and per case and
   output tensor the SHA-256 of mergekit's bytes, how many entries the index-order variant gets wrong, and up to
   SAMPLES of those positions with mergekit's value bits there (so a failing test can say where it differs).

Usage: HF_HUB_OFFLINE=1 python tools/mergekit_large_fixtures.py testdata/mergekit_large [WORKDIR]
(WORKDIR, default a temporary directory, receives the ~140 MB of models and outputs; about 10 minutes on 2 cores).
See testdata/mergekit_large/README.md.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

SHAPE = dict(hidden=1024, intermediate=2048, layers=1, heads=8, kv_heads=4, vocab=4096)
BASE_SEED = 0
DELTA_STD = 0.002
MODELS = {"base": (0, 0.0), "ft1": (1, DELTA_STD), "ft2": (2, DELTA_STD), "ft3": (3, DELTA_STD)}
SAMPLES = 48

M64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
BASE_MIX = 0x9E3779B97F4A7C15
DELTA_MIX = 0xBF58476D1CE4E5B9
# the float literals of SyntheticModels, by their bits (a decimal -> double -> float path could round differently)
SQRT3 = np.array([0x3FDDB3D7], dtype=np.uint32).view(np.float32)[0]  # 1.7320508f
BASE_STD = np.array([0x3CA3D70A], dtype=np.uint32).view(np.float32)[0]  # 0.02f


def java_hash(s):
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def splittable_longs(seed, n):
    """java.util.SplittableRandom(seed).nextLong() n times (splitmix64), as uint64."""
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN_GAMMA) + np.uint64(seed & M64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def gaussian(seed, n):
    b = splittable_longs(seed, n)
    mask = np.uint64(0xFFFF)
    s = (b & mask) + ((b >> np.uint64(16)) & mask) + ((b >> np.uint64(32)) & mask) + (b >> np.uint64(48))
    s = s.astype(np.float32)  # exact: below 2^18
    return (s / np.float32(65536) - np.float32(2)) * SQRT3


def tensor_specs():
    h, i, kv = SHAPE["hidden"], SHAPE["intermediate"], SHAPE["kv_heads"] * SHAPE["hidden"] // SHAPE["heads"]
    out = [("model.embed_tokens.weight", (SHAPE["vocab"], h))]
    for layer in range(SHAPE["layers"]):
        p = f"model.layers.{layer}."
        out += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight", (kv, h)),
                (p + "self_attn.v_proj.weight", (kv, h)), (p + "self_attn.o_proj.weight", (h, h)),
                (p + "mlp.gate_proj.weight", (i, h)), (p + "mlp.up_proj.weight", (i, h)),
                (p + "mlp.down_proj.weight", (h, i)), (p + "input_layernorm.weight", (h,)),
                (p + "post_attention_layernorm.weight", (h,))]
    out += [("model.norm.weight", (h,)), ("lm_head.weight", (SHAPE["vocab"], h))]
    return out


def values(name, shape, seed, delta_std):
    n = int(np.prod(shape))
    v = (np.float32(1 if len(shape) == 1 else 0)
         + BASE_STD * gaussian(((BASE_SEED * BASE_MIX) & M64) ^ (java_hash(name) & M64), n))
    if delta_std > 0:
        v = v + np.float32(delta_std) * gaussian(((seed * DELTA_MIX) & M64) ^ (java_hash(name) & M64), n)
    return torch.from_numpy(v.astype(np.float32)).to(torch.bfloat16).reshape(shape)


def write_model(path, seed, delta_std):
    os.makedirs(path, exist_ok=True)
    save_file({name: values(name, shape, seed, delta_std) for name, shape in tensor_specs()},
              os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": SHAPE["hidden"],
              "intermediate_size": SHAPE["intermediate"], "num_hidden_layers": SHAPE["layers"],
              "num_attention_heads": SHAPE["heads"], "num_key_value_heads": SHAPE["kv_heads"],
              "vocab_size": SHAPE["vocab"], "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
              "rope_theta": 10000.0, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2,
              "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def raw(t):
    return t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""


def sha256(t):
    return hashlib.sha256(raw(t)).hexdigest()


def bits(t):
    """The tensor's elements as unsigned integers of its width (value bits, comparable across tools)."""
    width = {2: torch.int16, 4: torch.int32}[t.element_size()]
    mask = (1 << (8 * t.element_size())) - 1
    return t.contiguous().view(width).reshape(-1).to(torch.int64) & mask


def allow_easy_define_methods():
    """pydantic >= 2.11's create_model no longer turns function-valued fields into methods, which breaks mergekit's
    easy_define methods (sce, nearswap, ...: "Can't instantiate abstract class"). Restore the old behaviour for
    this process only; mergekit's source stays unmodified."""
    import pydantic

    original = pydantic.create_model
    if getattr(original, "crucible_shim", False):
        return

    def create_model(name, **fields):
        methods = {k: v for k, v in fields.items() if callable(v) and not isinstance(v, type) and not k.startswith("__")}
        cls = original(name, **{k: v for k, v in fields.items() if k not in methods})
        for k, v in methods.items():
            setattr(cls, k, v)
        cls.__abstractmethods__ = frozenset(a for a in getattr(cls, "__abstractmethods__", ()) if a not in methods)
        return cls

    create_model.crucible_shim = True
    pydantic.create_model = create_model


def index_order_torch():
    """A stand-in for the torch module whose sort, argsort and topk leave equal keys in index order."""
    proxy = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})

    def sort(x, dim=-1, descending=False, stable=False):
        return torch.sort(x, dim=dim, descending=descending, stable=True)

    def argsort(x, dim=-1, descending=False, stable=False):
        return torch.sort(x, dim=dim, descending=descending, stable=True).indices

    def topk(x, k, dim=-1, largest=True, sorted=True):
        s = torch.sort(x.float() if x.dtype == torch.bfloat16 else x, dim=dim, descending=largest, stable=True)
        return s.values.narrow(dim, 0, k).to(x.dtype), s.indices.narrow(dim, 0, k)

    proxy.sort, proxy.argsort, proxy.topk = sort, argsort, topk
    return proxy


def run_index_order(config_path, out):
    """The same merge in-process with index-order tie breaking (mergekit otherwise unchanged)."""
    import mergekit.merge_methods.sce as sce
    import mergekit.sparsify as sparsify
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    saved = sparsify.torch, sce.torch
    sparsify.torch = sce.torch = index_order_torch()
    try:
        with open(config_path) as f:
            config = MergeConfiguration.model_validate(yaml.safe_load(f))
        run_merge(config, out, options=MergeOptions(copy_tokenizer=False, random_seed=42, quiet=True,
                                                          write_model_card=False))
    finally:
        sparsify.torch, sce.torch = saved


def main():
    fixture = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="mergekit_large_")
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    inputs = {}
    for name, (seed, delta_std) in MODELS.items():
        write_model(os.path.join(work, name), seed, delta_std)
        inputs[name] = {k: sha256(v) for k, v in load_file(os.path.join(work, name, "model.safetensors")).items()}
    cases = {}
    for cfg in sorted(os.listdir(os.path.join(fixture, "configs"))):
        case = cfg[:-len(".yml")]
        config_path = os.path.join(fixture, "configs", cfg)
        out = os.path.join(work, "out", case)
        naive = os.path.join(work, "index_order", case)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--mergekit-yaml", config_path, out, "--random-seed", "42", "--quiet", "--no-copy-tokenizer",
                        "--no-write-model-card"], cwd=work, check=True)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            run_index_order(config_path, naive)
        finally:
            os.chdir(cwd)
        ref = load_file(os.path.join(out, "model.safetensors"))
        alt = load_file(os.path.join(naive, "model.safetensors"))
        tensors = {}
        for name in sorted(ref):
            t = ref[name]
            rb, ab = bits(t), bits(alt[name])
            diff = torch.nonzero(rb != ab).reshape(-1)
            pick = diff[torch.linspace(0, len(diff) - 1, min(SAMPLES, len(diff))).long()] if len(diff) else diff
            tensors[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                             "sha256": sha256(t), "index_order_differs": int(len(diff)),
                             "samples": [[int(i), int(rb[i])] for i in pick]}
        cases[case] = {"config": "configs/" + cfg, "tensors": tensors}
        worst = max(v["index_order_differs"] / max(1, np.prod(v["shape"])) for v in tensors.values())
        print(f"{case}: {len(tensors)} tensors, index order differs on up to {100 * worst:.3f}% of a tensor")
    doc = {"generator": {"class": "dev.crucible.merge.SyntheticModels.write", "shape": SHAPE,
                         "base_seed": BASE_SEED, "models": {k: {"seed": s, "delta_std": d}
                                                            for k, (s, d) in MODELS.items()}},
           "oracle": {"mergekit": subprocess.run(["git", "-C", os.path.dirname(os.path.dirname(
               __import__("mergekit").__file__)), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
                      "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                      "cpu_capability": torch.backends.cpu.get_cpu_capability()},
           "inputs": inputs, "cases": cases}
    with open(os.path.join(fixture, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    allow_easy_define_methods()
    if sys.argv[1] == "--mergekit-yaml":  # upstream mergekit-yaml, unmodified, in this process
        from mergekit.scripts.run_yaml import main as mergekit_yaml
        mergekit_yaml(sys.argv[2:])
    else:
        main()
