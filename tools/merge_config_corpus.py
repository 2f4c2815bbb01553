"""What upstream mergekit does with each real config in testdata/merge_configs, on tiny stand-in models.

For every <case>.yml (copied from mergekit's examples and from model cards; sources in that folder's README):
1. every model the config names (models, base_model, slices' sources, tokenizer sources) gets a tiny stand-in
   Llama checkpoint at that path: hidden 64, intermediate 176, 4 heads / 2 KV heads, vocab 320 with the byte-level
   tokenizer of testdata/mergekit/models/tinytok-base, as many layers as the config's largest layer_range end (4
   when it names none); weights from Crucible's SyntheticModels generator (the port in mergekit_large_fixtures.py);
2. upstream mergekit-yaml runs the config there (cwd = the stand-ins' root, unmodified mergekit; the same pydantic
   shim as mergekit_large_fixtures.py), with --random-seed 42 --no-write-model-card;
3. expected.json records the stand-ins to create, and mergekit's outcome: the output's tensor count, layer count and
   a SHA-256 of its sorted "name shape" lines, or the error it stopped with. A merge still running after
   RUN_SECONDS (karcher with max_iter 9999 never converges on random stand-ins) is judged by mergekit's planner
   alone ("executed": false): its output tensor names, each with the stand-in's shape for that weight.
It also writes mergekit-dump-expanded.yml: a config as mergekit dumped it before ModelReference had its own
serializer, pydantic's default dump of every model reference ({model: {path, revision}, lora, override_architecture},
the form seen in older model cards); today's to_yaml still emits it for paths with spaces or quotes, but fails on
them under pydantic 2.13 ("Circular reference detected"), so the script dumps the references itself.

Usage: HF_HUB_OFFLINE=1 python tools/merge_config_corpus.py testdata/merge_configs [WORKDIR]
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mergekit_large_fixtures as synthetic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "testdata", "mergekit", "models", "tinytok-base")
DUMP_SOURCE = """merge_method: ties
base_model: stand ins/base model
models:
  - model: stand ins/fine tune 1
    parameters: {density: 0.5, weight: 0.5}
  - model: stand ins/fine tune 2
    parameters: {density: 0.5, weight: 0.5}
parameters: {normalize: true}
tokenizer_source: stand ins/base model
dtype: bfloat16
"""


def model_path(ref):
    """The directory a mergekit ModelPath names (a revision after '@' means nothing locally)."""
    if isinstance(ref, dict):
        return ref["path"]
    return ref.split("@")[0]


def references(ref, out):
    if isinstance(ref, str):
        if ref in ("union", "base"):
            return
        parts = ref.split("+")
        out["models"].add(model_path(parts[0]))
        if len(parts) == 2:
            out["loras"].add(model_path(parts[1]))
    elif isinstance(ref, dict):
        out["models"].add(model_path(ref["model"]))
        if ref.get("lora"):
            out["loras"].add(model_path(ref["lora"]))


def walk(node, out):
    """Collects model references and layer_range ends anywhere in a config."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("model", "base_model", "tokenizer_source") and value is not None:
                references(value, out)
            elif key == "source" and isinstance(value, (str, dict)) and not (
                    isinstance(value, dict) and "kind" in value):
                references(value, out)
            elif key == "layer_range" and isinstance(value, list) and len(value) == 2:
                out["layers"] = max(out["layers"], int(float(value[1])))
            else:
                walk(value, out)
    elif isinstance(node, list):
        for value in node:
            walk(value, out)


def stand_ins(config):
    out = {"models": set(), "loras": set(), "layers": 0}
    walk(config, out)
    if out["loras"]:
        raise SystemExit("LoRA references need stand-in adapters, which this script does not make")
    return {"models": sorted(out["models"]), "layers": out["layers"] or 4}


def write_stand_ins(root, spec):
    synthetic.SHAPE = dict(hidden=64, intermediate=176, layers=spec["layers"], heads=4, kv_heads=2, vocab=320)
    for i, path in enumerate(spec["models"]):
        target = os.path.join(root, path)
        synthetic.write_model(target, i + 1, 0.01)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(TOKENIZER, name), target)


RUN_SECONDS = 240


def summary(shapes, layers, executed):
    lines = "".join("%s %s\n" % (k, shapes[k]) for k in sorted(shapes))
    return {"ok": True, "executed": executed, "tensors": len(shapes), "layers": layers,
            "tensor_digest": hashlib.sha256(lines.encode()).hexdigest()}


def failure(stderr, code):
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return {"ok": False, "error": lines[-1] if lines else "exit %d" % code}


def outcome(root, config_path):
    out = os.path.join(root, "__out")
    try:
        r = subprocess.run([sys.executable, os.path.join(HERE, "mergekit_large_fixtures.py"), "--mergekit-yaml",
                            config_path, out, "--random-seed", "42", "--no-write-model-card", "--quiet"],
                           cwd=root, capture_output=True, text=True, timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        return planned(root, config_path)
    if r.returncode != 0:
        return failure(r.stderr, r.returncode)
    shapes = {}
    for name in os.listdir(out):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(out, name), "pt") as f:
                for key in f.keys():
                    shapes[key] = list(f.get_slice(key).get_shape())
    with open(os.path.join(out, "config.json")) as f:
        layers = json.load(f)["num_hidden_layers"]
    return summary(shapes, layers, True)


def planned(root, config_path):
    """mergekit's planner only: the output tensor names and layer count, shapes from a stand-in."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--plan", config_path], cwd=root,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return failure(r.stderr, r.returncode)
    plan = json.loads(r.stdout.strip().splitlines()[-1])
    stand_in = os.path.join(root, sorted(d for d in os.listdir(root) if not d.startswith("__"))[0])
    while not os.path.exists(os.path.join(stand_in, "model.safetensors")):
        stand_in = os.path.join(stand_in, os.listdir(stand_in)[0])
    with safe_open(os.path.join(stand_in, "model.safetensors"), "pt") as f:
        known = {re.sub(r"\.layers\.\d+\.", ".layers.0.", k): list(f.get_slice(k).get_shape()) for k in f.keys()}
    shapes = {n: known[re.sub(r"\.layers\.\d+\.", ".layers.0.", n)] for n in plan["tensors"]}
    return summary(shapes, plan["layers"], False)


def plan_only(config_path):
    """Prints {"tensors": [...], "layers": n} as mergekit's run_merge would plan them (cwd: the stand-ins)."""
    synthetic.allow_easy_define_methods()
    from mergekit.architecture import get_architecture_info
    from mergekit.config import MergeConfiguration
    from mergekit.io.tasks import LoaderCache
    from mergekit.merge import _model_out_config
    from mergekit.options import MergeOptions
    from mergekit.plan import MergePlanner

    with open(config_path) as f:
        config = MergeConfiguration.model_validate(yaml.safe_load(f))
    options = MergeOptions(random_seed=42, quiet=True, write_model_card=False)
    arch_info = get_architecture_info(config, options)
    LoaderCache().setup(options=options)
    cfg_out = _model_out_config(config, arch_info, trust_remote_code=False)
    planner = MergePlanner(config, arch_info, options=options, out_model_config=cfg_out)
    planner.plan_to_disk(out_path=tempfile.mkdtemp())
    print(json.dumps({"tensors": [w.name for w, _ in planner._tensors], "layers": cfg_out.num_hidden_layers}))


def write_dump(folder):
    synthetic.allow_easy_define_methods()
    from mergekit.common import ModelReference
    from mergekit.config import ConfigYamlDumper, MergeConfiguration

    def expanded(value):
        ref = ModelReference.model_validate(value)
        return {"model": ref.model.model_dump(mode="json"),
                "lora": ref.lora.model_dump(mode="json") if ref.lora else None,
                "override_architecture": ref.override_architecture}

    raw = yaml.safe_load(DUMP_SOURCE)
    MergeConfiguration.model_validate(raw)  # mergekit accepts the source
    raw["base_model"] = expanded(raw["base_model"])
    raw["tokenizer_source"] = expanded(raw["tokenizer_source"])
    for m in raw["models"]:
        m["model"] = expanded(m["model"])
    with open(os.path.join(folder, "mergekit-dump-expanded.yml"), "w") as f:
        f.write(yaml.dump(raw, Dumper=ConfigYamlDumper))


def main():
    folder = os.path.abspath(sys.argv[1])
    work = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="merge_config_corpus_")
    write_dump(folder)
    cases = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".yml"):
            continue
        case = name[:-len(".yml")]
        path = os.path.join(folder, name)
        with open(path) as f:
            config = yaml.safe_load(f)
        spec = stand_ins(config)
        root = os.path.join(work, case)
        shutil.rmtree(root, ignore_errors=True)
        write_stand_ins(root, spec)
        result = outcome(root, path)
        cases[case] = {"stand_ins": spec, "mergekit": result}
        print(case, "->", "ok" if result["ok"] else result["error"])
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1] == "--plan":
        plan_only(sys.argv[2])
    else:
        main()
