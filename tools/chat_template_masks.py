"""Reference loss masks for every chat template in testdata/chat_templates, made with transformers' own renderer.

For each template and each conversation of CONVERSATIONS this renders the conversation with
`tokenizer.apply_chat_template` (transformers, tools and documents passed as transformers passes them), locates
every message with the placeholder turn finder below, tokenises the render and writes the labels that Axolotl's
`chat_template` dataset options give (`roles_to_train`, `train_on_eos`), so that Crucible's Java turn finder,
run on its own Jinja renderer, can be compared with it token by token.

The turn finder (the contract Crucible implements; Axolotl's find_turn idea, made safe for templates that render
a turn differently once it is no longer the last one):
  R        = render(M), the whole conversation, no generation prompt.
  diff(X, variants) = [min over variants of the common prefix of X and the variant,
                       len(X) - min over variants of the common suffix)  -- two placeholders whose first and
                       last characters differ, so that text the content shares with a placeholder never counts.
  content region C_j of every message j: diff(R, M with m_j.content replaced by each placeholder, other
                       fields kept); absent when the template drops m_j (all three renders equal) or refuses.
  for the message i being located:
    T   = render(M[:i+1]); W_T = diff(T, M[:i] + [{role, content: placeholder}])   (Axolotl's dummy turn:
          content, reasoning and tool calls all replaced, so the region covers everything the turn rendered)
    W_R = diff(R, M with m_i := {role, content: placeholder})
    candidates, first one that overlaps no other message's content region wins:
      1. [W_R.start, W_R.start + len(T[W_T])] when R continues there with exactly T[W_T] (the turn as the
         template renders it when last; this cuts off differences that leak into later messages, e.g. tool
         results that repeat the tool call)
      2. W_R            (templates that render past turns differently, e.g. Qwen3 dropping old think blocks)
      3. C_i            (the dummy turn is refused, e.g. a tool result without its call)
      4. the first occurrence in R, after the content regions of the messages before i, of the turn as the
         template renders it when last (T[W_T], else T's content region) -- for turns whose content the
         template does not print and whose dummy it refuses (gpt-oss and Mistral tool calls)
    end of turn: the text the template emits after the region when the turn is last (T after the region of
      the same dummy kind) as far as R has the same text after the region, never past the next message's
      content region. Its tokens count only when they lie wholly inside it (so `<|end|>\\n<|` shared by
      `<|end|>\\n<|endoftext|>` and `<|end|>\\n<|user|>` gives `<|end|>` and `\\n`, not `<|user|>`).
  loss: a token carries loss when it overlaps the region of a trained message (role in roles_to_train) or
    lies wholly in a counted end of turn: train_on_eos turn = ends of trained messages, all = ends of every
    located message, last = the last trained message's end that is not empty, none = no end.

Tokenizer: testdata/hf/tokenizers/bytelevel_bpe/tokenizer.json with the template's turn markers (found in its
renders by MARKER) appended as special added tokens, so that markers are single tokens as in the real models.
Turn offsets are code points (Python str indices); `loss` holds, per label variant, the [start, end) ranges of
token indices whose label is the token id (-100 elsewhere).

Run: /work/venv/bin/python tools/chat_template_masks.py testdata/chat_templates/turns_reference.json
"""
import copy
import glob
import json
import os
import re
import sys
from datetime import datetime

import transformers
import transformers.utils.chat_template_utils as chat_template_utils
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATES = os.path.join(ROOT, "testdata", "chat_templates")
BASE_TOKENIZER = os.path.join(ROOT, "testdata", "hf", "tokenizers", "bytelevel_bpe", "tokenizer.json")
PLACEHOLDERS = ("[[crucible-turn-1]]", "((crucible-turn-2))")
SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
# firefunction-v2 reads caller-provided `functions` (a JSON string) and `datetime` unconditionally
EXTRA_CONTEXT = {"fireworks-ai-llama-3-firefunction-v2.jinja": {"functions": "[]", "datetime": "2025-07-10"}}
# special-token-like markers: <|x|>, <｜x｜>, <|x>, <x|>, <x_y>, </x>, [X], [/X]
MARKER = re.compile(r"<\|[^<>|\s]{1,40}\|>|<｜[^｜\s]{1,40}｜>|<\|[A-Za-z_:\"]{1,30}>|<[A-Za-z_:]{1,30}\|>"
                    r"|</?(?:s|think|seed:think|start_of_turn|end_of_turn|tool_call|tool_response)>|\[/?[A-Z_]{3,30}\]")


class FixedClock(datetime):
    """transformers' strftime_now reads datetime.now(); the Java tests use the same fixed instant."""

    @classmethod
    def now(cls, tz=None):
        return datetime(2025, 7, 10, 12, 0, 0)


chat_template_utils.datetime = FixedClock

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}]


def msg(role, content, **extra):
    return dict(role=role, content=content, **extra)


# name -> (messages, tools)
CONVERSATIONS = {
    # the conversation of issue 10: the reply "Yes" also occurs in the first user message
    "yes_no": ([msg("user", "Is 7 prime? Answer Yes or No."), msg("assistant", "Yes"), msg("user", "And 9?"),
                msg("assistant", "No")], None),
    # system message, a reply with leading spaces, a reply that repeats user text
    "system_multi_turn": ([msg("system", "You are a terse assistant."), msg("user", "Say hi."),
                           msg("assistant", "  Hi."), msg("user", "Say hi again."), msg("assistant", "Hi again."),
                           msg("user", "Thanks"), msg("assistant", "You are welcome.")], None),
    # reasoning in the reasoning_content field (Qwen3, GLM, DeepSeek V3.2, MiniMax, Nemotron read it)
    "reasoning_field": ([msg("system", "Be brief."), msg("user", "2+2?"),
                         msg("assistant", "4", reasoning_content="Two and two make four."), msg("user", "3+3?"),
                         msg("assistant", "6", reasoning_content="Three and three make six.")], None),
    # reasoning inside the content (DeepSeek-R1 and QwQ cut it from past turns)
    "reasoning_in_content": ([msg("system", "Be brief."), msg("user", "2+2?"),
                              msg("assistant", "<think>\nTwo and two.\n</think>\n\n4"), msg("user", "3+3?"),
                              msg("assistant", "<think>\nThree and three.\n</think>\n\n6")], None),
    # gpt-oss reads the reasoning from `thinking`
    "thinking_field": ([msg("user", "2+2?"), msg("assistant", "4", thinking="Two and two make four."),
                        msg("user", "3+3?"), msg("assistant", "6", thinking="Three and three make six.")], None),
    # a tool call with dict arguments, the tool's answer, the final reply
    "tool_call": ([msg("system", "You are a helpful assistant."), msg("user", "What's the weather in Paris?"),
                   msg("assistant", "", tool_calls=[{"id": "call12345", "type": "function", "function": {
                       "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]),
                   msg("tool", "{\"temp\": 21, \"sky\": \"sunny\"}", tool_call_id="call12345", name="get_weather"),
                   msg("assistant", "It is 21 °C and sunny in Paris.")], TOOLS),
}
# label variants: name -> (roles_to_train, train_on_eos)
VARIANTS = {
    "default": (["assistant"], "turn"),
    "eos_last": (["assistant"], "last"),
    "eos_all": (["assistant"], "all"),
    "eos_none": (["assistant"], "none"),
    "user_and_assistant": (["user", "assistant"], "turn"),
}


def common_prefix(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def common_suffix(a, b):
    n = min(len(a), len(b))
    i = 0
    while i < n and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


class Renderer:
    def __init__(self, tokenizer, source, tools, extra):
        self.tokenizer, self.source, self.tools, self.extra = tokenizer, source, tools, extra

    def __call__(self, messages):
        """The render, or None when the template raises for this conversation."""
        try:
            return self.tokenizer.apply_chat_template(copy.deepcopy(messages), tokenize=False,
                                                      chat_template=self.source, add_generation_prompt=False,
                                                      tools=self.tools, **self.extra)
        except Exception:  # the template refuses the conversation (raise_exception, type errors, ...)
            return None


def diff(render, text, variants):
    """[start, end) of the part of `text` that differs from the renders of the variants; None when a variant
    cannot be rendered or no variant differs (the template does not render the replaced part)."""
    starts, ends = [], []
    for messages in variants:
        other = render(messages)
        if other is None:
            return None
        if other == text:
            return None
        starts.append(common_prefix(text, other))
        ends.append(len(text) - common_suffix(text, other))
    start = min(starts)
    return start, max(start, max(ends))


def with_message(messages, i, replacement):
    out = list(messages)
    out[i] = replacement
    return out


def content_dummies(messages, i):
    return [with_message(messages, i, dict(messages[i], content=p)) for p in PLACEHOLDERS]


def turn_dummies(messages, i):
    return [with_message(messages, i, {"role": messages[i]["role"], "content": p}) for p in PLACEHOLDERS]


def overlaps(region, others):
    s, e = region
    for a, b in others:
        if (a < b and a < e and s < b) or (a == b and s < a < e):
            return True
    return False


def locate(render, messages):
    """Per message: (start, end, end_of_turn_end) in the full render, or None when it cannot be located."""
    full = render(messages)
    content = [diff(render, full, content_dummies(messages, j)) for j in range(len(messages))]
    located = []
    for i in range(len(messages)):
        others = [c for j, c in enumerate(content) if j != i and c is not None]
        last = render(messages[:i + 1])
        whole_last = diff(render, last, turn_dummies(messages[:i + 1], i)) if last is not None else None
        content_last = diff(render, last, content_dummies(messages[:i + 1], i)) if last is not None else None
        whole = diff(render, full, turn_dummies(messages, i))
        candidates = []  # (region, region of the same dummy kind in the last-turn render)
        if whole is not None and whole_last is not None:
            turn_text = last[whole_last[0]:whole_last[1]]
            if full.startswith(turn_text, whole[0]):
                candidates.append(((whole[0], whole[0] + len(turn_text)), whole_last))
        if whole is not None:
            candidates.append((whole, whole_last))
        if content[i] is not None:
            candidates.append((content[i], content_last))
        in_last = whole_last if whole_last is not None else content_last
        if in_last is not None and in_last[1] > in_last[0]:
            turn_text = last[in_last[0]:in_last[1]]
            at = full.find(turn_text, max([c[1] for c in content[:i] if c is not None], default=0))
            if at >= 0:
                candidates.append(((at, at + len(turn_text)), in_last))
        found = None
        for region, in_last in candidates:
            if not overlaps(region, others):
                found = (region, in_last)
                break
        if found is None:
            located.append(None)
            continue
        (s, e), in_last = found
        limit = min([a for a, b in others if a >= e], default=len(full))
        tail = last[in_last[1]:] if in_last is not None else ""
        located.append((s, e, e + common_prefix(tail, full[e:limit])))
    return full, located


def loss_ranges(offsets, messages, located, roles, train_on_eos):
    """[start, end) token index ranges that carry loss."""
    trained = [loc is not None and m["role"] in roles for m, loc in zip(messages, located)]
    eots = []
    if train_on_eos == "all":
        eots = [loc for loc in located if loc is not None]
    elif train_on_eos == "turn":
        eots = [loc for loc, t in zip(located, trained) if t]
    elif train_on_eos == "last":
        closed = [loc for loc, t in zip(located, trained) if t and loc[2] > loc[1]]
        eots = closed[-1:]
    ranges = []
    for k, (ts, te) in enumerate(offsets):
        on = ts < te and (any(t and ts < loc[1] and loc[0] < te for loc, t in zip(located, trained))
                          or any(loc[1] <= ts and te <= loc[2] for loc in eots))
        if on and ranges and ranges[-1][1] == k:
            ranges[-1][1] = k + 1
        elif on:
            ranges.append([k, k + 1])
    return ranges


def tokenizer_with_markers(base_json, markers):
    spec = json.loads(base_json)
    next_id = max(max(spec["model"]["vocab"].values()), max(t["id"] for t in spec["added_tokens"])) + 1
    known = {t["content"] for t in spec["added_tokens"]}
    for m in markers:
        if m not in known:
            spec["added_tokens"].append({"id": next_id, "content": m, "single_word": False, "lstrip": False,
                                         "rstrip": False, "normalized": False, "special": True})
            next_id += 1
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)), **SPECIAL_TOKENS)
    return fast


def main(out_path):
    base_json = open(BASE_TOKENIZER, encoding="utf-8").read()
    plain = PreTrainedTokenizerFast(tokenizer_file=BASE_TOKENIZER, **SPECIAL_TOKENS)
    templates = {}
    for path in sorted(glob.glob(os.path.join(TEMPLATES, "*.jinja"))):
        name = os.path.basename(path)
        source = open(path, encoding="utf-8").read()
        extra = EXTRA_CONTEXT.get(name, {})
        renders = {}
        for cname, (messages, tools) in CONVERSATIONS.items():
            renders[cname] = Renderer(plain, source, tools, extra)(messages)
        markers = sorted({m for text in renders.values() if text for m in MARKER.findall(text)})
        tok = tokenizer_with_markers(base_json, markers)
        cases = {}
        for cname, (messages, tools) in CONVERSATIONS.items():
            render = Renderer(tok, source, tools, extra)
            if renders[cname] is None:
                try:
                    tok.apply_chat_template(messages, tokenize=False, chat_template=source, tools=tools, **extra)
                    raise AssertionError("expected an error")
                except Exception as e:
                    cases[cname] = {"error": "%s: %s" % (type(e).__name__, e)}
                continue
            text, located = locate(render, messages)
            enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            case = {"text": text,
                    "turns": [None if loc is None else list(loc) for loc in located],
                    "input_ids": enc["input_ids"]}
            case["loss"] = {v: loss_ranges(enc["offset_mapping"], messages, located, roles, eos)
                            for v, (roles, eos) in VARIANTS.items()}
            cases[cname] = case
        templates[name] = {"markers": markers, "cases": cases}
    out = {"generator": "tools/chat_template_masks.py, transformers %s" % transformers.__version__,
           "placeholders": list(PLACEHOLDERS), "special_tokens": SPECIAL_TOKENS,
           "extra_context": EXTRA_CONTEXT, "tools": TOOLS,
           "conversations": {k: v[0] for k, v in CONVERSATIONS.items()},
           "conversation_tools": [k for k, v in CONVERSATIONS.items() if v[1] is not None],
           "variants": {k: {"roles_to_train": r, "train_on_eos": e} for k, (r, e) in VARIANTS.items()},
           "templates": templates}
    with open(out_path, "w", encoding="utf-8") as f:  # one line per template keeps diffs readable
        head = {k: v for k, v in out.items() if k != "templates"}
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ',\n"templates": {\n')
        f.write(",\n".join(json.dumps(k, ensure_ascii=False) + ": " + json.dumps(v, ensure_ascii=False,
                                                                               separators=(",", ":"))
                            for k, v in templates.items()))
        f.write("\n}}\n")

if __name__ == "__main__":
    main(sys.argv[1])
