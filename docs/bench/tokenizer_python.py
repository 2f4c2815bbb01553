"""Times Hugging Face `tokenizers` (Python) on the inputs TokenizerBenchmark wrote, the same three cases.

usage: python tokenizer_python.py MODEL_DIR INPUTS.json [SECONDS_PER_CASE]
"""
import json
import sys
import time

from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
tok.no_truncation()
tok.no_padding()
inputs = json.load(open(sys.argv[2], encoding="utf-8"))
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
document, chats = inputs["document"], inputs["chats"]


def report(name, work):
    warm_end = time.perf_counter() + seconds * 0.3
    while time.perf_counter() < warm_end:
        work()
    tokens, start = 0, time.perf_counter()
    while True:
        tokens += work()
        now = time.perf_counter()
        if now - start >= seconds:
            break
    print(f"{name:<26} {tokens / (now - start):>12,.0f} tokens/s")


report("single long document", lambda: len(tok.encode(document, add_special_tokens=False).ids))
report("chat texts one by one", lambda: sum(len(tok.encode(c, add_special_tokens=False).ids) for c in chats))
report("chat texts as one batch", lambda: sum(len(e.ids) for e in tok.encode_batch(chats, add_special_tokens=False)))
