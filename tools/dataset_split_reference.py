"""Which rows Axolotl loads for a dataset entry's `path`, `split`, `data_files`, `name` and `ds_type` on local data,
computed with Hugging Face `datasets` called exactly as Axolotl calls it (axolotl/utils/data/shared.py,
_load_from_local_path; then sft.py picks the split of a DatasetDict, "train" when none is given).

Crucible reads `data_files` relative to the `path` directory (they name files of the dataset repository, as on
the Hub); Axolotl hands them to `load_dataset` unchanged, which reads them relative to the working directory, so
this script runs from inside the directory.

The layouts are testdata/datasets/layouts/*; every row has an `id`. Output: for each case the ids in load order,
or the error. Run: /work/venv/bin/python tools/dataset_split_reference.py testdata/datasets/splits_reference.json
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="hf-datasets-")
import datasets  # noqa: E402
from datasets import DatasetDict, load_dataset, load_from_disk  # noqa: E402

datasets.disable_progress_bars()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUTS = os.path.join(ROOT, "testdata", "datasets", "layouts")

# (path, split, data_files, name, ds_type)
CASES = [
    ("single.jsonl", None, None, None, None),
    ("single.jsonl", "train", None, None, None),
    ("single.jsonl", "train[:25%]", None, None, None),
    ("single.jsonl", "train[:1%]", None, None, None),
    ("single.jsonl", "train[:5%]", None, None, None),
    ("single.jsonl", "train[4:7]", None, None, None),
    ("single.jsonl", "train[-3:]", None, None, None),
    ("single.jsonl", "train[10%:30%]", None, None, None),
    ("single.jsonl", "train[-50%:-20%]", None, None, None),
    ("single.jsonl", "train[:95%]", None, None, None),
    ("single.jsonl", "train[20:]", None, None, None),
    ("single.jsonl", "train[:2]+train[-2:]", None, None, None),
    ("single.jsonl", "train[:50%](pct1_dropremainder)", None, None, None),
    ("single.jsonl", "test", None, None, None),
    ("single.jsonl", "train[::2]", None, None, None),
    ("by_filename", None, None, None, None),
    ("by_filename", "test", None, None, None),
    ("by_filename", "validation", None, None, None),
    ("by_filename", "test[:2]", None, None, None),
    ("by_filename", "train[50%:]+test[:1]", None, None, None),
    ("sharded", None, None, None, None),
    ("sharded", "test", None, None, None),
    ("by_dirname", None, None, None, None),
    ("by_dirname", "validation", None, None, None),
    ("plain", None, None, None, None),
    ("plain", "test", None, None, None),
    ("configs", None, None, None, None),
    ("configs", "test", None, "main", None),
    ("configs", None, None, "socratic", None),
    ("configs", None, None, "nope", None),
    ("plain", None, ["b.jsonl", "nested/c.jsonl"], None, None),
    ("plain", None, "a.jsonl", None, None),
    ("plain", "train[1:]", ["nested/*.jsonl", "a.jsonl"], None, None),
    ("sharded", None, ["data/train-*.jsonl"], None, "json"),
]


def axolotl_load(path, split, data_files, name, ds_type):
    """_load_from_local_path, then the split selection of _load_and_process_single_dataset."""
    kwargs = {"split": split if split else None, "name": name, "streaming": False}
    if os.path.isdir(path):
        if data_files:
            dataset = load_dataset(ds_type or "json", data_files=data_files, **kwargs)
        else:
            try:
                dataset = load_from_disk(path)
            except FileNotFoundError:
                dataset = load_dataset(path, **kwargs)
    else:
        if not kwargs.get("split"):
            kwargs["split"] = "train"
        dataset = load_dataset(ds_type or "json", data_files=path, **kwargs)
    if isinstance(dataset, DatasetDict):
        if split and split in dataset:
            dataset = dataset[split]
        elif "train" in dataset:
            dataset = dataset["train"]
        else:
            raise ValueError("no train split found")
    return [row["id"] for row in dataset]


def main(out_path):
    out = {"generator": "tools/dataset_split_reference.py, datasets %s" % datasets.__version__, "cases": []}
    here = os.getcwd()
    for path, split, data_files, name, ds_type in CASES:
        case = {"path": path, "split": split, "data_files": data_files, "name": name, "ds_type": ds_type}
        full = os.path.join(LAYOUTS, path)
        try:
            if data_files:
                os.chdir(full)  # data_files are files of the dataset directory
            case["ids"] = axolotl_load(full, split, data_files, name, ds_type)
        except Exception as e:  # the reference records that datasets refuses the case
            case["error"] = type(e).__name__
        finally:
            os.chdir(here)
        out["cases"].append(case)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
