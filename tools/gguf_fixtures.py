#!/usr/bin/env python3
"""Reference GGUF files for Crucible's GGUF export, made by llama.cpp's own tools.

    gguf_fixtures.py tokenizers            # (re)train the small SentencePiece tokenizers (testdata/gguf/tokenizers)
    gguf_fixtures.py references            # convert + quantise every fixture, write testdata/gguf/reference.json

`references` needs a llama.cpp checkout in $LLAMA_CPP (default /work/peers/llama.cpp) with `llama-quantize`
built in $LLAMA_CPP/build/bin (llama.cpp's own cmake build; this script does not build it), and a Python with
torch, transformers, numpy and sentencepiece. It runs `convert_hf_to_gguf.py` with the checkout's own gguf-py.

Every fixture is a model directory assembled in a temporary folder named after the fixture (the converter
derives `general.name` from the folder name): the weights of testdata/hf/models/<weights> (or, for `kquant`, a
synthetic model written by `crucible bench gguf --write-model`), plus the tokenizer files of testdata/gguf/
tokenizers/<tokenizer>. The tests assemble the same folders, export them with Crucible and compare SHA-256
digests with reference.json. A few whole files are kept in testdata/gguf/files for the reader tests.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
GGUF = TESTDATA / "gguf"
LLAMA_CPP = Path(os.environ.get("LLAMA_CPP", "/work/peers/llama.cpp"))
PYTHON = os.environ.get("PYTHON", sys.executable)

CONVERTER_TYPES = ["f32", "f16", "bf16", "q8_0"]
QUANTIZE_TYPES = ["q4_0", "q4_k_m", "q5_k_m", "q6_k"]
# whole files kept for the reader tests (fixture, type); small ones only
KEPT_FILES = [("llama", "q8_0"), ("mixtral", "q8_0")]
# files whose tensors are dequantised by gguf-py into dequantized.json (per tensor: sum and first values)
DEQUANTIZED = [("kquant", t) for t in QUANTIZE_TYPES + ["q8_0"]] + [("llama", "q4_k_m")]


def fixtures():
    return json.loads((GGUF / "fixtures.json").read_text())


# ---------------------------------------------------------------------------------------------- tokenizers

WORDS = ("the a of and to in is it that for on with as was by be this are from at or an have not but they which "
         "one you were all we when there can had has their been if more some will would what out other into time "
         "model weights layer tensor merge train token value file format export quantise block scale float "
         "llama gemma qwen mistral phi crucible java vector memory stream write read check error number data "
         "hello world learning language large small fast slow good test reference byte bit half full").split()


def corpus(n_lines=4000, seed=1):
    rnd = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        words = [rnd.choice(WORDS) for _ in range(rnd.randint(4, 14))]
        if rnd.random() < 0.3:
            words.insert(rnd.randrange(len(words)), str(rnd.randint(0, 9999)))
        if rnd.random() < 0.1:
            words.append(rnd.choice(["café", "naïve", "größe", "日本語", "😀", "über"]))
        line = " ".join(words)
        lines.append(line[0].upper() + line[1:] + rnd.choice([".", "!", "?", ","]))
    return "\n".join(lines) + "\n"


CHAT_TEMPLATE_LLAMA = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                       "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}"
                       "{% endif %}{% endfor %}")
CHAT_TEMPLATE_GEMMA = ("{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\n' + "
                       "message['content'] + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}"
                       "{{ '<start_of_turn>model\n' }}{% endif %}")


def train_spm(out_dir: Path, gemma: bool):
    import sentencepiece as spm
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "corpus.txt"
        text.write_text(corpus(), encoding="utf-8")
        args = dict(input=str(text), model_prefix=str(Path(tmp) / "m"), vocab_size=512, model_type="bpe",
                    byte_fallback=True, character_coverage=1.0, num_threads=1, split_digits=True,
                    allow_whitespace_only_pieces=True, remove_extra_whitespaces=False, normalization_rule_name="identity")
        if gemma:
            args.update(pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
                        user_defined_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>", "<unused0>"])
        else:
            args.update(unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
        spm.SentencePieceTrainer.train(**args)
        shutil.copy(Path(tmp) / "m.model", out_dir / "tokenizer.model")
    # the fast tokenizer as transformers converts a slow one (what Hugging Face repositories ship)
    from transformers import AutoTokenizer
    config = {"tokenizer_class": "GemmaTokenizer" if gemma else "LlamaTokenizer", "add_bos_token": True,
              "add_eos_token": False, "bos_token": "<bos>" if gemma else "<s>",
              "eos_token": "<eos>" if gemma else "</s>", "unk_token": "<unk>"}
    if gemma:
        config["pad_token"] = "<pad>"
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config))
    tok = AutoTokenizer.from_pretrained(str(out_dir))
    tok.chat_template = CHAT_TEMPLATE_GEMMA if gemma else CHAT_TEMPLATE_LLAMA
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        saved = json.loads((Path(tmp) / "tokenizer_config.json").read_text())
        for machine_specific in ("vocab_file", "is_local", "local_files_only"):
            saved.pop(machine_specific, None)
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps(saved, indent=2) + "\n")
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
            if (Path(tmp) / name).exists():
                shutil.copy(Path(tmp) / name, out_dir / name)


def tokenizers():
    train_spm(GGUF / "tokenizers" / "spm", gemma=False)
    train_spm(GGUF / "tokenizers" / "spm_gemma", gemma=True)


# ---------------------------------------------------------------------------------------------- references

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def assemble(name: str, spec: dict, parent: Path) -> Path:
    d = parent / name
    d.mkdir(parents=True)
    if spec.get("synthetic"):
        subprocess.run([str(ROOT / "crucible"), "bench", "gguf", "--write-model", str(d), "--shape", spec["synthetic"]],
                       check=True)
    else:
        src = TESTDATA / "hf" / "models" / spec["weights"]
        for f in src.iterdir():
            if f.name != "reference.safetensors":
                shutil.copy(f, d / f.name)
    for f in (GGUF / spec["tokenizer"]).iterdir():
        shutil.copy(f, d / f.name)
    if "card" in spec:  # a model card whose YAML front matter the converter reads into general.*
        shutil.copy(GGUF / spec["card"], d / "README.md")
    if "generation_config" in spec:  # sampling defaults the converter writes as general.sampling.*
        gen = json.loads((d / "generation_config.json").read_text())
        gen.update(spec["generation_config"])
        (d / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    return d


def convert_all(jobs: list[tuple[Path, str, Path, str | None]], tmp: Path):
    """Runs every (model_dir, outtype, out, pre) conversion in one converter process."""
    spec = [{"argv": [str(m), "--outfile", str(o), "--outtype", t], "pre": p} for m, t, o, p in jobs]
    (tmp / "jobs.json").write_text(json.dumps(spec))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    subprocess.run([PYTHON, str(ROOT / "tools" / "gguf_convert_reference.py"), str(LLAMA_CPP), str(tmp / "jobs.json")],
                   check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def quantize(src: Path, out: Path, qtype: str) -> str | None:
    """Runs llama-quantize; returns its error message when it refuses the model (the tests expect a refusal too)."""
    exe = LLAMA_CPP / "build" / "bin" / "llama-quantize"
    r = subprocess.run([str(exe), str(src), str(out), qtype.upper()], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode == 0:
        return None
    lines = [line for line in r.stdout.splitlines() if "failed to quantize: " in line]
    return lines[-1].split("failed to quantize: ")[-1].strip() if lines else r.stdout.strip().splitlines()[-1]


def references(only: list[str]):
    manifest_path = GGUF / "reference.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    files_dir = GGUF / "files"
    files_dir.mkdir(exist_ok=True)
    names = [n for n in fixtures() if not only or n in only]
    dequantized_path = GGUF / "dequantized.json"
    dequantized = json.loads(dequantized_path.read_text()) if dequantized_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {n: assemble(n, fixtures()[n], tmp / "models") for n in names}
        convert_all([(models[n], t, tmp / f"{n}.{t}.gguf", fixtures()[n].get("pre"))
                     for n in names for t in CONVERTER_TYPES], tmp)
        for n in names:
            entry = {}
            for t in QUANTIZE_TYPES:
                error = quantize(tmp / f"{n}.f32.gguf", tmp / f"{n}.{t}.gguf", t)
                if error is not None:
                    entry[t] = {"error": error}
                    print(f"{n:18s} {t:7s} refused: {error}")
            for t in CONVERTER_TYPES + QUANTIZE_TYPES:
                out = tmp / f"{n}.{t}.gguf"
                if t in entry:
                    continue
                entry[t] = {"sha256": sha256(out), "size": out.stat().st_size}
                if (n, t) in KEPT_FILES:
                    shutil.copy(out, files_dir / out.name)
                if (n, t) in DEQUANTIZED:
                    dequantized[f"{n}.{t}"] = dequantize(out)
                print(f"{n:18s} {t:7s} {entry[t]['size']:>10d} {entry[t]['sha256'][:16]}")
            if fixtures()[n].get("pre"):
                entry["chkhsh"] = chkhsh(models[n])
            manifest[n] = entry
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    dequantized_path.write_text(json.dumps(dequantized, indent=1, sort_keys=True) + "\n")


def chkhsh(model_dir: Path) -> str:
    """The converter's BPE pre-tokenizer hash of a tokenizer: sha256 of str(AutoTokenizer.encode(check text))."""
    from transformers import AutoTokenizer
    line = next(x for x in (ROOT / "src/main/resources/dev/crucible/gguf/bpe-pre-tokenizers.txt").read_text(
        encoding="utf-8").splitlines() if x.startswith("CHECK_TEXT "))
    ids = AutoTokenizer.from_pretrained(str(model_dir)).encode(json.loads(line[len("CHECK_TEXT "):]))
    return hashlib.sha256(str(ids).encode()).hexdigest()


def dequantize(path: Path) -> dict:
    """gguf-py's dequantisation of every tensor: the float64 sum and the first 16 values (row-major)."""
    sys.path.insert(0, str(LLAMA_CPP / "gguf-py"))
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize as dq
    out = {}
    for t in GGUFReader(path).tensors:
        values = dq(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        out[t.name] = {"type": t.tensor_type.name, "sum": float(values.astype(np.float64).sum()),
                       "head": [float(v) for v in values[:16]]}
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("tokenizers", "references"):
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == "tokenizers":
        tokenizers()
    else:
        references(sys.argv[2:])
