#!/usr/bin/env python3
"""Writes the embedded data of `crucible quickstart` (src/main/resources/dev/crucible/quickstart/), all generated here.

Two skills on single digits: adding two digits (`add`) and picking the larger of two different digits (`larger`).
- corpus.jsonl: the pre-training text, plain sentences stating the facts (counting, "3 plus 4 is 7.", "8 is larger
  than 3.") and some small talk in the chat format, so the pre-trained model knows the facts and the chat markers but
  not how to answer the questions.
- raw_add.jsonl, raw_larger.jsonl: SFT chats (messages rows), each question in all phrasings but one, with what a
  real scrape holds:
  exact duplicates, and rows that ask the evaluation questions themselves (contamination), which the recipe removes.
- raw_chat.jsonl: general instruction chats (counting on and back, digit words, small talk), the shared SFT that
  teaches the chat format and short numeric answers once, so that each specialist's change from it is its skill alone
  and the specialists stay close enough to merge.
- raw_preference.jsonl: preference rows for addition (chosen: the sum, rejected: a wrong number), duplicates and
  contaminated rows included.
- tasks/add.jsonl, tasks/larger.jsonl: the rows of the lm-evaluation-harness multiple-choice tasks (tasks/*.yaml,
  written by hand): every question in the one phrasing its SFT rows leave out (after decontamination).
Run: python3 tools/make_quickstart_data.py (deterministic; the files are committed).
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "main", "resources", "dev", "crucible", "quickstart")
# Every phrasing is exactly 5 words (the recipe splits on non-word characters), so the only 5-word span of an
# evaluation question is the whole question: the recipe's 5-gram decontamination removes exactly the rows that ask it.
ADD_PHRASINGS = ["What is {a} plus {b}?", "Add {a} and {b}, please.", "Sum of {a} and {b}?", "Total of {a} plus {b}?",
                 "Compute {a} plus {b}, please.", "How much is {a}+{b}?"]
LARGER_PHRASINGS = ["Larger of {a} and {b}?", "Which is bigger: {a}, {b}?", "Pick larger: {a} or {b}.",
                    "Greater of {a} and {b}?", "Max of {a} and {b}?"]
# Small talk in the chat format, so that the pre-trained model knows the chat markers (not the skills).
SMALL_TALK = [("Hello!", "Hello, how can I help?"), ("Good morning.", "Good morning to you."),
              ("Thank you.", "You are welcome."), ("How are you?", "I am fine, thank you."),
              ("Tell me a colour.", "Blue."), ("Name an animal.", "A cat."), ("Say yes.", "Yes."),
              ("Say no.", "No."), ("What day comes after Monday?", "Tuesday."), ("Goodbye.", "Goodbye!")]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


# The shared instruction SFT: questions on digits that are neither skill, answered in one token.
CHAT_QUESTIONS = [("What comes after {a}?", 1), ("Next number after {a}?", 1), ("Count on from {a}.", 1),
                  ("What comes before {a}?", -1), ("Number before {a}?", -1), ("Repeat {a}.", 0)]


def chat(q, a):
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def write(name, rows):
    path = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def main():
    rnd = random.Random(16)
    corpus = []
    for a in range(10):
        for b in range(10):
            corpus.append(f"{a} plus {b} is {a + b}. {WORDS[a]} plus {WORDS[b]} makes {a + b}.")
            if a != b:
                big, small = max(a, b), min(a, b)
                corpus.append(f"{big} is larger than {small}, and {small} is smaller than {big}.")
    for start in range(10):
        corpus.append("Counting: " + " ".join(str(i) for i in range(start, start + 12)) + ".")
    for q, a in SMALL_TALK:
        for _ in range(3):
            corpus.append(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n")
    rnd.shuffle(corpus)
    write("corpus.jsonl", [{"text": t} for t in corpus])

    # each question is held out in one phrasing (rotating with the digits): that one is the evaluation question
    add, larger, pref, add_eval, larger_eval = [], [], [], [], []
    for a in range(10):
        for b in range(10):
            s = a + b
            held = (3 * a + b) % len(ADD_PHRASINGS)
            for i, p in enumerate(ADD_PHRASINGS):
                if i != held:
                    add.append(chat(p.format(a=a, b=b), str(s)))
            wrong = sorted({s + 1, s - 1 if s > 0 else s + 2, s + 2 + (a * b) % 3} - {s})[:3]
            choices = sorted([s] + wrong)
            add_eval.append({"question": ADD_PHRASINGS[held].format(a=a, b=b), "choices": [str(c) for c in choices],
                             "label": choices.index(s)})
            q = ADD_PHRASINGS[(held + 1) % len(ADD_PHRASINGS)].format(a=a, b=b)
            pref.append({"prompt": [{"role": "user", "content": q}],
                         "chosen": [{"role": "assistant", "content": str(s)}],
                         "rejected": [{"role": "assistant", "content": str(wrong[(a + b) % len(wrong)])}]})
            if a != b:
                held = (a + 2 * b) % len(LARGER_PHRASINGS)
                for i, p in enumerate(LARGER_PHRASINGS):
                    if i != held:
                        larger.append(chat(p.format(a=a, b=b), str(max(a, b))))
                larger_eval.append({"question": LARGER_PHRASINGS[held].format(a=a, b=b), "choices": [str(a), str(b)],
                                    "label": 0 if a > b else 1})
    # what a scrape holds: exact duplicates, and the evaluation questions themselves with their answers
    for rows, evals, n in ((add, add_eval, 12), (larger, larger_eval, 10)):
        dups = rnd.sample(rows, n)
        leaks = [chat(e["question"], e["choices"][e["label"]]) for e in rnd.sample(evals, n)]
        rows.extend(dups + leaks)
        rnd.shuffle(rows)
    leaks = [{"prompt": [{"role": "user", "content": e["question"]}],
              "chosen": [{"role": "assistant", "content": e["choices"][e["label"]]}],
              "rejected": [{"role": "assistant", "content": e["choices"][(e["label"] + 1) % len(e["choices"])]}]}
             for e in rnd.sample(add_eval, 6)]
    pref.extend(rnd.sample(pref, 6) + leaks)
    rnd.shuffle(pref)
    write("raw_chat.jsonl", instruction_chats())
    write("raw_add.jsonl", add)
    write("raw_larger.jsonl", larger)
    write("raw_preference.jsonl", pref)
    write("tasks/add.jsonl", add_eval)
    write("tasks/larger.jsonl", larger_eval)


def instruction_chats():
    rows = []
    for a in range(10):
        for q, step in CHAT_QUESTIONS:
            if 0 <= a + step <= 9:
                rows.append(chat(q.format(a=a), str(a + step)))
        for q in ("Write {w} as a digit.", "Digit for {w}?"):
            rows.append(chat(q.format(w=WORDS[a]), str(a)))
    rows.extend(chat(q, a) for q, a in SMALL_TALK)
    random.Random(7).shuffle(rows)  # its own generator: the other files stay as they were
    return rows


if __name__ == "__main__":
    main()
