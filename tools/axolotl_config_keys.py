#!/usr/bin/env python3
"""Lists the top-level config keys that Axolotl's YAML schema knows, for Crucible's `sft` config reader.

Axolotl validates a config with the pydantic model `AxolotlInputConfig` (src/axolotl/utils/schemas/config.py) plus
the argument models of its integrations (src/axolotl/integrations/*/args.py), which plugins mix in. This script reads
those sources with `ast` (Axolotl need not be installed), follows the base classes of `AxolotlInputConfig` through
the schema modules and collects every annotated field, then adds the integrations' fields.

Usage: tools/axolotl_config_keys.py AXOLOTL_CHECKOUT > src/main/resources/dev/crucible/cli/axolotl-keys.txt
"""
import ast
import subprocess
import sys
from pathlib import Path


def classes_in(paths):
    found = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, node)
    return found


def fields(node):
    """Annotated fields, under the YAML name: a Field's alias= where it has one (model_type, model_config, ...)."""
    out = set()
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if name.startswith("_") or name == "model_config" and stmt.value is None:
                continue
            alias = None
            if isinstance(stmt.value, ast.Call):
                for kw in stmt.value.keywords:
                    if kw.arg == "alias" and isinstance(kw.value, ast.Constant):
                        alias = kw.value.value
            out.add(alias or name)
    return out


def base_names(node):
    names = []
    for b in node.bases:
        if isinstance(b, ast.Name):
            names.append(b.id)
        elif isinstance(b, ast.Attribute):
            names.append(b.attr)
    return names


def main(root):
    root = Path(root)
    schema = classes_in(sorted((root / "src/axolotl/utils/schemas").rglob("*.py")))
    keys = set()
    pending, seen = ["AxolotlInputConfig"], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in schema:
            continue
        seen.add(name)
        keys |= fields(schema[name])
        pending.extend(base_names(schema[name]))
    for args in sorted((root / "src/axolotl/integrations").glob("*/args.py")):
        for node in classes_in([args]).values():
            keys |= fields(node)
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    print("# Top-level config keys of Axolotl's schema (AxolotlInputConfig and its bases, plus the integrations'")
    print("# argument models), from github.com/axolotl-ai-cloud/axolotl at " + (commit or "unknown commit") + ".")
    print("# Made by tools/axolotl_config_keys.py; one key per line.")
    for k in sorted(keys):
        print(k)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/peers/axolotl")
