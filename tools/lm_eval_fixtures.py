"""Reference runs of lm-evaluation-harness 0.4.13 for `crucible eval tasks` (testdata/lm_eval).

Writes, under OUTDIR (normally testdata/lm_eval):
  models/<variant>/      tokenizer files of each tiny test model (the weights are testdata/hf/models/llama's,
                         linked in at run time): bytelevel (no BOS added, BOS defined), bytelevel_bos (BOS added by
                         the post-processor, as Llama), bytelevel_nobos (no BOS token at all: EOS is the prefix
                         token), metaspace_bos (SentencePiece-style, BOS added)
  tasks/                 task YAML files and their data, invented for these tests (nothing from real benchmarks):
                         every output type, few-shot (default and first_n samplers, from another split and from the
                         evaluated one), include:, a group with aggregation, a tag, filters, generation, JSON/CSV/Parquet
  runs.json              the runs: model variant and the command-line flags (Crucible's spelling)
  runs/<run>/            what lm_eval wrote: results.json, samples_<task>.jsonl, table.md (its printed table)
  leaderboard/data/      stand-in datasets in the layout of the real leaderboard datasets (Parquet + README configs)
  leaderboard/runs/...   lm_eval with its own leaderboard task files (Python hooks included) on that stand-in data

Usage (lm_eval installed --no-deps; stubs for its missing optional imports on PYTHONPATH):
  PYTHONPATH=/work/peers/stubs-lmeval HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
      python tools/lm_eval_fixtures.py testdata/lm_eval
CPU only, deterministic; a few minutes on 2 cores.
"""
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HF = os.path.join(ROOT, "testdata", "hf")
WEIGHTS = os.path.join(HF, "models", "llama")
LM_EVAL = [os.path.join(os.path.dirname(sys.executable), "lm_eval")]

RUNS = [
    {"name": "main", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_group,qa_firstn,qa_samesplit,wino_like,pairs_ll,arith_gen,arith_gen_short,qa_multitarget",
              "--include-path", ".", "--log-samples", "--batch-size", "4"]},
    {"name": "rolling", "model": "bytelevel_bos", "max_length": 48,
     "args": ["--tasks", "texts_rolling,pairs_ll", "--include-path", ".", "--log-samples"]},
    {"name": "nobos", "model": "bytelevel_nobos",
     "args": ["--tasks", "texts_rolling,qa_default,arith_gen", "--include-path", ".", "--log-samples",
              "--limit", "5"]},
    {"name": "nobos_bosdefined", "model": "bytelevel",
     "args": ["--tasks", "texts_rolling,qa_default", "--include-path", ".", "--log-samples", "--limit", "4"]},
    {"name": "chat", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_default,arith_gen", "--include-path", ".", "--log-samples", "--limit", "4",
              "--apply-chat-template", "--system-instruction", "You answer questions."]},
    {"name": "metaspace", "model": "metaspace_bos",
     "args": ["--tasks", "arith_gen,qa_firstn,texts_rolling", "--include-path", ".", "--log-samples"]},
    {"name": "tag_fraction", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_tabular", "--include-path", ".", "--log-samples", "--num-fewshot", "1",
              "--limit", "0.5"]},
    {"name": "gen_prefix", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_genprefix,arith_genprefix", "--include-path", ".", "--log-samples", "--limit", "4"]},
    {"name": "gen_prefix_chat", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_genprefix,arith_genprefix", "--include-path", ".", "--log-samples", "--limit", "4",
              "--apply-chat-template"]},
    {"name": "yaml_path", "model": "bytelevel_bos",
     "args": ["--tasks", "qa_default.yaml", "--log-samples", "--num-fewshot", "3", "--seed", "42",
              "--gen-kwargs", "max_gen_toks=7"]},
]

LEADERBOARD_TASKS = "open_llm_leaderboard"
# lm-eval's leaderboard task -> (Hub id, config) of its dataset
LEADERBOARD_DATA = {
    "arc_challenge": ("allenai/ai2_arc", "ARC-Challenge"),
    "hellaswag": ("Rowan/hellaswag", None),
    "truthfulqa_mc2": ("truthfulqa/truthful_qa", "multiple_choice"),
    "winogrande": ("allenai/winogrande", "winogrande_xl"),
    "gsm8k": ("openai/gsm8k", "main"),
}

WORDS = ("apple river stone cloud paper garden window candle mirror ladder violin pepper rocket silver "
         "meadow harbor pencil lantern bridge marble velvet thunder orchard feather compass kettle saddle "
         "tunnel glacier saffron").split()
ODD = ["café", "naïve", "smörgåsbord", "Ωmega", "日本語", "emoji 🙂", "jalapeño", "façade", "Zürich", "coöperate"]


def tokenizer_variants(out):
    """The tokenizer directories of the test models (weights: testdata/hf/models/llama, vocab 512)."""
    src = os.path.join(HF, "tokenizers")
    for name, base, bos_added, bos in [("bytelevel", "bytelevel_bpe", False, True),
                                       ("bytelevel_bos", "bytelevel_bpe", True, True),
                                       ("bytelevel_nobos", "bytelevel_bpe", False, False),
                                       ("metaspace_bos", "metaspace_bpe", True, True)]:
        d = os.path.join(out, "models", name)
        os.makedirs(d, exist_ok=True)
        tok = json.load(open(os.path.join(src, base, "tokenizer.json"), encoding="utf-8"))
        if bos_added:
            bos_id = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<s>")
            tok["post_processor"] = {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [bos_id], "tokens": ["<s>"]}},
            }
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False, indent=1)
        cfg = json.load(open(os.path.join(src, base, "tokenizer_config.json"), encoding="utf-8"))
        if not bos:
            cfg.pop("bos_token", None)
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=2)
        template = os.path.join(src, base, "chat_template.jinja")
        if os.path.exists(template):
            shutil.copy(template, os.path.join(d, "chat_template.jinja"))


def model_dir(out, variant, tmp):
    """A model directory: the llama fixture's weights and config with a variant's tokenizer."""
    d = os.path.join(tmp, "model-" + variant)
    os.makedirs(d, exist_ok=True)
    for f in ("config.json", "generation_config.json", "model.safetensors"):
        if not os.path.exists(os.path.join(d, f)):
            os.symlink(os.path.join(WEIGHTS, f), os.path.join(d, f))
    for f in os.listdir(os.path.join(out, "models", variant)):
        shutil.copy(os.path.join(out, "models", variant, f), os.path.join(d, f))
    return d


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def task_data(out):
    rng = random.Random(7)
    d = os.path.join(out, "tasks", "data")
    os.makedirs(d, exist_ok=True)

    def qa_row(i):
        n = rng.choice([3, 4])
        choices = []
        while len(choices) < n:
            c = rng.choice(WORDS + ODD) + ("" if rng.random() < 0.5 else " " + rng.choice(WORDS))
            if c not in choices:
                choices.append(c)
        label = rng.randrange(n)
        return {"question": "Which %s is %s the %s?" % (rng.choice(WORDS), rng.choice(ODD + WORDS), rng.choice(WORDS)),
                "choices": choices, "label": label, "answer_text": choices[label], "id": "q%d" % i}

    train = [qa_row(i) for i in range(8)]
    test = [qa_row(100 + i) for i in range(10)]
    write_jsonl(os.path.join(d, "qa_train.jsonl"), train)
    write_jsonl(os.path.join(d, "qa_test.jsonl"), test)
    with open(os.path.join(d, "qa_test.csv"), "w", encoding="utf-8", newline="") as f:
        import csv
        w = csv.writer(f)
        w.writerow(["question", "A", "B", "C", "label"])
        for r in test:
            w.writerow([r["question"]] + r["choices"][:3] + [min(r["label"], 2)])
    pq.write_table(pa.Table.from_pylist(train), os.path.join(d, "qa_train.parquet"))
    pq.write_table(pa.Table.from_pylist(test), os.path.join(d, "qa_test.parquet"))

    wino = []
    for i in range(9):
        a, b = rng.sample(WORDS, 2)
        wino.append({"sentence": "The %s was bigger than the %s because _ %s." % (a, b, words(rng, 3)),
                     "option1": a, "option2": b, "answer": rng.choice(["1", "2"])})
    write_jsonl(os.path.join(d, "wino.jsonl"), wino)

    texts = []
    for i in range(6):
        parts = []
        for _ in range(rng.randrange(2, 6)):
            parts.append(words(rng, rng.randrange(3, 25)) + rng.choice([".", "!", "?", " —", ","]))
            if rng.random() < 0.4:
                parts.append(rng.choice(ODD))
        sep = rng.choice([" ", "  ", "\n", "\n\n", "\t "])
        texts.append({"text": sep.join(parts) + ("\n" if i % 2 else "")})
    write_jsonl(os.path.join(d, "texts.jsonl"), texts)

    pairs = []
    for i in range(8):
        ctx = words(rng, rng.randrange(2, 60 if i % 3 == 0 else 12))
        if i % 4 == 1:
            ctx += "  "  # trailing spaces move to the continuation
        pairs.append({"context": ctx.capitalize(), "continuation": rng.choice(["", " "]) + words(rng, rng.randrange(1, 4))})
    write_jsonl(os.path.join(d, "pairs.jsonl"), pairs)

    arith = []
    for i in range(8):
        a, b = rng.randrange(2, 40), rng.randrange(2, 40)
        arith.append({"question": "What is %d plus %d, %s?" % (a, b, rng.choice(ODD)),
                      "answer": "We add %d and %d.\n#### %s" % (a, b, "{:,}".format((a + b) * 37))})
    write_jsonl(os.path.join(d, "arith_train.jsonl"), arith[:3])
    write_jsonl(os.path.join(d, "arith_test.jsonl"), arith[3:])


TASK_FILES = {
    "_qa_base.yaml": """# shared keys of the qa_* tasks (not a task itself: no 'task' key)
output_type: multiple_choice
dataset_path: json
dataset_kwargs:
  data_files:
    train: data/qa_train.jsonl
    test: data/qa_test.jsonl
training_split: train
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: label
metadata:
  version: 1.0
""",
    "qa_default.yaml": """include: _qa_base.yaml
task: qa_default
description: "Answer {{ 'each' }} question.\\n\\n"
num_fewshot: 2
metric_list:
  - metric: acc
  - metric: acc_norm
  - metric: acc_bytes
  - metric: exact_match
  - metric: acc_mutual_info
""",
    "qa_firstn.yaml": """include: _qa_base.yaml
task: qa_firstn
task_alias: first n shots
fewshot_split: train
fewshot_config:
  sampler: first_n
num_fewshot: 3
doc_to_target: answer_text
target_delimiter: ": "
fewshot_delimiter: "\\n###\\n"
metric_list:
  - metric: acc
  - metric: acc_norm
""",
    "qa_samesplit.yaml": """include: _qa_base.yaml
task: qa_samesplit
training_split: null
fewshot_split: test
num_fewshot: 3
doc_to_target: "{{label}}"
""",
    "qa_multitarget.yaml": """include: _qa_base.yaml
task: qa_multitarget
num_fewshot: 0
doc_to_target: "{{[label, (label + 1) % choices|length]}}"
metric_list:
  - metric: acc
  - metric: acc_norm
  - metric: exact_match
""",
    "qa_csv.yaml": """tag: qa_tabular
task: qa_csv
output_type: multiple_choice
dataset_path: csv
dataset_kwargs:
  data_files:
    test: data/qa_test.csv
test_split: test
doc_to_text: "{{question}}"
doc_to_choice: "{{[A, B, C]}}"
doc_to_target: "{{label}}"
target_delimiter: "\\n-> "
metric_list:
  - metric: acc
  - metric: acc_norm
""",
    "qa_parquet.yaml": """tag:
  - qa_tabular
task: qa_parquet
output_type: multiple_choice
dataset_path: parquet
dataset_kwargs:
  data_files:
    train: data/qa_train.parquet
    test: data/qa_test.parquet
training_split: train
test_split: test
doc_to_text: "Q: {{question | regex_replace('\\\\?$', ' ?')}}\\nA:"
doc_to_choice: choices
doc_to_target: label
""",
    "qa_group.yaml": """group: qa_group
group_alias: QA (group)
task:
  - qa_default
  - qa_csv
  - task: qa_parquet
    num_fewshot: 1
  - group: qa_inner
    task:
      - qa_firstn_inline
    aggregate_metric_list:
      - metric: acc
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
  - metric: acc_norm
    weight_by_size: false
metadata:
  version: 2
""",
    "qa_firstn_inline.yaml": """include: _qa_base.yaml
task: qa_firstn_inline
fewshot_split: train
fewshot_config:
  sampler: first_n
num_fewshot: 1
""",
    "wino_like.yaml": """task: wino_like
dataset_path: json
dataset_kwargs:
  data_files: data/wino.jsonl
training_split: train
validation_split: train
output_type: multiple_choice
num_fewshot: 2
doc_to_text: "{{ {'1': 0, '2': 1}[answer] }}"
doc_to_target: "{{ sentence[sentence.index('_') + 1:].strip() }}"
doc_to_choice: "{{ [sentence[:sentence.index('_')] + option1, sentence[:sentence.index('_')] + option2] }}"
metric_list:
  - metric: acc
""",
    "pairs_ll.yaml": """task: pairs_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/pairs.jsonl
test_split: test
output_type: loglikelihood
doc_to_text: context
doc_to_target: continuation
""",
    "texts_rolling.yaml": """task: texts_rolling
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/texts.jsonl
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{text}}"
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
""",
    "arith_gen.yaml": """task: arith_gen
dataset_path: json
dataset_kwargs:
  data_files:
    train: data/arith_train.jsonl
    test: data/arith_test.jsonl
training_split: train
test_split: test
output_type: generate_until
num_fewshot: 1
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: "{{answer}}"
generation_kwargs:
  until:
    - "Question:"
    - "\\n\\n"
  max_gen_toks: 24
  do_sample: false
  temperature: 0.0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore:
      - ","
      - "\\\\$"
      - "(?s).*#### "
      - "\\\\.$"
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{2,})|(-?[0-9]+)"
      - function: take_first
  - name: cleaned
    filter:
      - function: lowercase
      - function: remove_whitespace
      - function: take_first
""",
    "qa_genprefix.yaml": """include: _qa_base.yaml
task: qa_genprefix
num_fewshot: 2
gen_prefix: "The answer is"
""",
    "arith_genprefix.yaml": """include: arith_gen.yaml
task: arith_genprefix
num_fewshot: 1
gen_prefix: "{{ 'Let me think:' }}"
generation_kwargs:
  until:
    - "\\n"
  max_gen_toks: 12
filter_list:
  - name: raw
    filter:
      - function: take_first
""",
    "arith_gen_short.yaml": """include: arith_gen.yaml
task: arith_gen_short
num_fewshot: 0
generation_kwargs:
  until: []
  max_gen_toks: 5
filter_list:
  - name: raw
    filter:
      - function: take_first
""",
}


def write_tasks(out):
    d = os.path.join(out, "tasks")
    os.makedirs(d, exist_ok=True)
    for name, text in TASK_FILES.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)


def lm_eval_flags(args):
    """Crucible's flag spelling -> lm_eval's."""
    out = []
    for a in args:
        if a.startswith("--"):
            a = a.replace("-", "_")
            a = "--" + a[2:]
        out.append(a)
    return out


def run_lm_eval(out, run, tmp, cwd, dest, tasks_arg=None):
    model = model_dir(out, run["model"], tmp)
    model_args = "pretrained=%s,dtype=float32" % model
    if run.get("max_length"):
        model_args += ",max_length=%d" % run["max_length"]
    outdir = os.path.join(tmp, "out-" + run["name"])
    shutil.rmtree(outdir, ignore_errors=True)
    cmd = LM_EVAL + ["--model", "hf", "--model_args", model_args, "--device", "cpu", "--output_path", outdir] \
        + lm_eval_flags(run["args"])
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", HF_DATASETS_CACHE=os.path.join(tmp, "datasets-cache"))
    print("lm_eval run", run["name"], flush=True)
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-8000:])
        raise SystemExit("lm_eval failed for run " + run["name"])
    os.makedirs(dest, exist_ok=True)
    (results,) = glob.glob(os.path.join(outdir, "*", "results_*.json"))
    res = json.load(open(results, encoding="utf-8"))
    for key in ("pretty_env_info", "date", "total_evaluation_time_seconds", "git_hash", "upper_git_hash"):
        res.pop(key, None)
    with open(os.path.join(dest, "results.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=2, ensure_ascii=False)
    for s in glob.glob(os.path.join(outdir, "*", "samples_*.jsonl")):
        name = os.path.basename(s)
        task = name[len("samples_"):name.rindex("_")]
        shutil.copy(s, os.path.join(dest, "samples_%s.jsonl" % task))
    table = p.stdout[p.stdout.index("|"):] if "|" in p.stdout else ""
    with open(os.path.join(dest, "table.md"), "w", encoding="utf-8") as f:
        f.write(table)


# ---- leaderboard stand-in data (real datasets' layout, invented content) ----

MMLU_SUBJECTS = None


def parquet(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def readme(path, configs):
    lines = ["---", "configs:"]
    for name, splits in configs:
        lines.append("- config_name: %s" % name)
        lines.append("  data_files:")
        for split, pattern in splits:
            lines.append("  - split: %s" % split)
            lines.append("    path: %s" % pattern)
    lines += ["---", "", "Stand-in data for Crucible's tests (invented content, real layout).", ""]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def leaderboard_data(out):
    rng = random.Random(11)
    root = os.path.join(out, "leaderboard", "data")
    shutil.rmtree(root, ignore_errors=True)

    # ARC: id, question, choices {text, label}, answerKey
    def arc_rows(n, prefix):
        rows = []
        for i in range(n):
            k = rng.choice([3, 4, 4, 5])
            labels = ["A", "B", "C", "D", "E"][:k] if rng.random() < 0.8 else ["1", "2", "3", "4", "5"][:k]
            rows.append({"id": "%s-%d" % (prefix, i), "question": "Why does the %s %s?" % (rng.choice(WORDS), words(rng, 3)),
                         "choices": {"text": [words(rng, rng.randrange(1, 4)) for _ in range(k)], "label": labels},
                         "answerKey": rng.choice(labels)})
        return rows

    d = os.path.join(root, "allenai", "ai2_arc")
    for split, n in [("train", 30), ("validation", 6), ("test", 8)]:
        parquet(os.path.join(d, "ARC-Challenge", "%s-00000-of-00001.parquet" % split), arc_rows(n, split))
    readme(os.path.join(d, "README.md"), [("ARC-Challenge", [(s, "ARC-Challenge/%s-*" % s) for s in
                                                              ("train", "test", "validation")])])

    # HellaSwag (Rowan/hellaswag as the Hub's Parquet conversion lays it out: default/<split>/0000.parquet)
    def hs_rows(n, split):
        rows = []
        for i in range(n):
            act = rng.choice(["Making " + rng.choice(WORDS), "Cleaning the " + rng.choice(WORDS), "Playing " + rng.choice(WORDS)])
            ctx_a = words(rng, rng.randrange(4, 12)) + ("  [title] " + words(rng, 3) if rng.random() < 0.5 else "")
            ctx_b = rng.choice(["THE ", "then ", "a "]) + words(rng, 2)
            endings = [words(rng, rng.randrange(3, 9)) + (" [step] " + words(rng, 2) if rng.random() < 0.3 else "")
                       for _ in range(4)]
            rows.append({"ind": i, "activity_label": act, "ctx_a": ctx_a, "ctx_b": ctx_b, "ctx": ctx_a + " " + ctx_b,
                         "endings": endings, "source_id": "src-%d" % i, "split": split, "split_type": "indomain",
                         "label": str(rng.randrange(4))})
        return rows

    d = os.path.join(root, "Rowan", "hellaswag")
    for split, n in [("train", 20), ("validation", 8)]:
        parquet(os.path.join(d, "default", split, "0000.parquet"), hs_rows(n, split))

    # MMLU (cais/mmlu): one config per subject, dev/validation/test
    global MMLU_SUBJECTS
    subjects = sorted(os.path.basename(p)[len("mmlu_"):-len(".yaml")] for p in glob.glob(os.path.join(
        os.path.dirname(__import__("lm_eval").__file__), "tasks", "mmlu", "default", "mmlu_*.yaml")))
    MMLU_SUBJECTS = subjects
    d = os.path.join(root, "cais", "mmlu")
    configs = []
    for s in subjects:
        for split, n in [("dev", 5), ("validation", 2), ("test", 2)]:
            rows = [{"question": "  %s: which %s %s? " % (s.replace("_", " "), rng.choice(WORDS), words(rng, 2)),
                     "subject": s, "choices": [words(rng, rng.randrange(1, 3)) for _ in range(4)],
                     "answer": rng.randrange(4)} for _ in range(n)]
            parquet(os.path.join(d, s, "%s-00000-of-00001.parquet" % split), rows)
        configs.append((s, [(sp, "%s/%s-*" % (s, sp)) for sp in ("test", "validation", "dev")]))
    readme(os.path.join(d, "README.md"), configs)

    # TruthfulQA multiple_choice: question, mc1_targets, mc2_targets
    rows = []
    for i in range(8):
        k = rng.randrange(3, 6)
        ch = [words(rng, rng.randrange(2, 6)) + "." for _ in range(k)]
        labels = [1] * rng.randrange(1, k) + [0]
        labels = labels + [0] * (k - len(labels))
        rows.append({"question": "What happens if you %s?" % words(rng, 3),
                     "mc1_targets": {"choices": ch, "labels": [1] + [0] * (k - 1)},
                     "mc2_targets": {"choices": ch, "labels": labels}})
    d = os.path.join(root, "truthfulqa", "truthful_qa")
    parquet(os.path.join(d, "multiple_choice", "validation-00000-of-00001.parquet"), rows)
    readme(os.path.join(d, "README.md"), [("multiple_choice", [("validation", "multiple_choice/validation-*")])])

    # Winogrande XL: sentence (with _), option1, option2, answer ("1"/"2")
    def wg_rows(n):
        out = []
        for _ in range(n):
            a, b = rng.sample(WORDS, 2)
            out.append({"sentence": "%s %s the %s because _ was %s." % (a.capitalize(), rng.choice(["beat", "saw", "fixed"]), b,
                                                                    words(rng, 2)),
                        "option1": a, "option2": b, "answer": rng.choice(["1", "2"])})
        return out

    d = os.path.join(root, "allenai", "winogrande")
    for split, n in [("train", 12), ("validation", 8), ("test", 3)]:
        parquet(os.path.join(d, "winogrande_xl", "%s-00000-of-00001.parquet" % split), wg_rows(n))
    readme(os.path.join(d, "README.md"), [("winogrande_xl", [(s, "winogrande_xl/%s-*" % s) for s in
                                                              ("train", "test", "validation")])])

    # GSM8K main: question, answer ("...\n#### N")
    def gs_rows(n):
        out = []
        for _ in range(n):
            a, b = rng.randrange(2, 90), rng.randrange(2, 90)
            out.append({"question": "A %s costs $%d and a %s costs $%d. How much for both?" % (
                rng.choice(WORDS), a, rng.choice(WORDS), b),
                        "answer": "It costs %d + %d = <<%d+%d=%d>>%d dollars.\n#### %s" % (a, b, a, b, a + b, a + b,
                                                                                          "{:,}".format((a + b) * 50))})
        return out

    d = os.path.join(root, "openai", "gsm8k")
    for split, n in [("train", 10), ("test", 5)]:
        parquet(os.path.join(d, "main", "%s-00000-of-00001.parquet" % split), gs_rows(n))
    readme(os.path.join(d, "README.md"), [("main", [(s, "main/%s-*" % s) for s in ("train", "test")])])


LEADERBOARD_GROUP = """group: open_llm_leaderboard
group_alias: Open LLM Leaderboard (v1)
task:
  - task: arc_challenge
    num_fewshot: 25
  - task: hellaswag
    num_fewshot: 10
  - group: mmlu
    num_fewshot: 5
  - task: truthfulqa_mc2
    num_fewshot: 0
  - task: winogrande
    num_fewshot: 5
  - task: gsm8k
    num_fewshot: 5
metadata:
  version: 1
"""


def leaderboard_task_overrides(out, tmp):
    """lm-eval's own leaderboard task files (Python hooks and all) with dataset_path pointed at the local stand-in
    directories, and the leaderboard group with its few-shot counts (Crucible ships the same group file)."""
    tasks_dir = os.path.join(os.path.dirname(__import__("lm_eval").__file__), "tasks")
    data = os.path.join(out, "leaderboard", "data")
    d = os.path.join(tmp, "leaderboard-tasks")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    files = {"arc_challenge": "arc/arc_challenge.yaml", "hellaswag": "hellaswag/hellaswag.yaml",
             "truthfulqa_mc2": "truthfulqa/truthfulqa_mc2.yaml", "winogrande": "winogrande/default.yaml",
             "gsm8k": "gsm8k/gsm8k.yaml"}
    for task, rel in files.items():
        hub, _ = LEADERBOARD_DATA[task]
        with open(os.path.join(d, task + ".yaml"), "w") as f:
            f.write("include: %s\ntask: %s\ndataset_path: %s\n" % (os.path.join(tasks_dir, rel), task,
                                                                   os.path.join(data, hub)))
    mmlu = os.path.join(tasks_dir, "mmlu", "default")
    for f in os.listdir(mmlu):
        if f.startswith("_mmlu"):
            shutil.copy(os.path.join(mmlu, f), os.path.join(d, f))
    for s in MMLU_SUBJECTS:
        with open(os.path.join(d, "mmlu_%s.yaml" % s), "w") as f:
            f.write("include: %s\ndataset_path: %s\n" % (os.path.join(mmlu, "mmlu_%s.yaml" % s),
                                                          os.path.join(data, "cais", "mmlu")))
    with open(os.path.join(d, "open_llm_leaderboard.yaml"), "w") as f:
        f.write(LEADERBOARD_GROUP)
    return d


def python_random(out):
    """CPython's random.Random draws that lm-eval's few-shot sampling and bootstrap use, for PythonRandom's test."""
    cases = []
    for seed in [0, 1, 42, 1234, 99, 2 ** 32 + 5, 2 ** 70 + 3, -7]:
        r = random.Random(seed)
        case = {"seed": seed, "random": [r.random() for _ in range(5)],
                "getrandbits": {str(k): r.getrandbits(k) for k in (1, 7, 31, 32, 33, 63)}}
        case["sample"] = [{"n": n, "k": k, "out": r.sample(list(range(n)), k)}
                          for n, k in [(10, 3), (5, 5), (30, 6), (100, 3), (1000, 26), (8, 0), (2000, 40)]]
        case["choices"] = {"n": 13, "k": 40, "out": random.Random(seed).choices(list(range(13)), k=40)}
        cases.append(case)
    with open(os.path.join(out, "python_random.json"), "w") as f:
        json.dump(cases, f, indent=1)


def main():
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    python_random(out)
    tokenizer_variants(out)
    task_data(out)
    write_tasks(out)
    with open(os.path.join(out, "runs.json"), "w") as f:
        json.dump(RUNS, f, indent=2)
    only = sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        for run in RUNS:
            if only and run["name"] not in only:
                continue
            run_lm_eval(out, run, tmp, os.path.join(out, "tasks"), os.path.join(out, "runs", run["name"]))
        if not only or "leaderboard" in only:
            leaderboard_data(out)
            tasks = leaderboard_task_overrides(out, tmp)
            run = {"name": "leaderboard", "model": "bytelevel_bos",
                   "args": ["--tasks", LEADERBOARD_TASKS, "--include-path", tasks, "--log-samples", "--limit", "3"]}
            run_lm_eval(out, run, tmp, out, os.path.join(out, "leaderboard", "runs", "leaderboard"))
            with open(os.path.join(out, "leaderboard", "run.json"), "w") as f:
                json.dump({"model": "bytelevel_bos", "args": ["--tasks", LEADERBOARD_TASKS, "--log-samples",
                                                              "--limit", "3", "--data-dir", "leaderboard/data"]}, f,
                          indent=2)


if __name__ == "__main__":
    main()
