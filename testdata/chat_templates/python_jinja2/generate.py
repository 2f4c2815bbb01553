"""Renders every case of ../hfjs_jinja_expected.json and ../expected.json with Python's Jinja2 configured as
transformers configures it for chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, the {% generation %} tag, tojson/raise_exception/strftime_now as transformers defines them),
and writes reference.json. The feature and whitespace cases use the options huggingface.js's tests use.

Run: python3 generate.py   (needs jinja2; the Java tests only read reference.json)
"""
import glob
import json
import os
import platform
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render_assistant"), [], [], body).set_lineno(lineno)

    def _render_assistant(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    # huggingface.js's tests mock the clock to 2025-07-10T12:00:00Z
    return datetime(2025, 7, 10, 12, 0, 0).strftime(fmt)


CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "What is 2+2?"},
]
# a tool-using conversation: tools, an assistant tool call (arguments as a dict), the tool's answer
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}]
TOOL_CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21, \"sky\": \"sunny\"}"},
    {"role": "assistant", "content": "It is 21 °C and sunny in Paris."},
    {"role": "user", "content": "Thanks! <b>Bold</b> & 'quotes'?"},
]
# firefunction-v2 reads caller-provided `functions` (a JSON string) and `datetime` unconditionally
EXTRA_CONTEXT = {"fireworks-ai-llama-3-firefunction-v2.jinja": {"functions": "[]", "datetime": "2025-07-10"}}


def render(template, context, trim=True, lstrip=True, keep=False):
    env = ImmutableSandboxedEnvironment(trim_blocks=trim, lstrip_blocks=lstrip, keep_trailing_newline=keep,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    try:
        return {"output": env.from_string(template).render(**context)}
    except Exception as e:  # the reference records the error kind and message
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    hf = json.load(open("../hfjs_jinja_expected.json"))
    out = {"generator": "jinja2 %s on Python %s" % (jinja2.__version__, platform.python_version()),
           "e2e": [], "feature": [], "whitespace": [], "llamacpp": []}
    for c in hf["e2e_chat_templates"]:
        out["e2e"].append(render(c["chat_template"], c["data"]))
    for c in hf["template_feature_cases"]:
        out["feature"].append(render(c["template"], c["context"], trim=False, lstrip=False))
    for c in hf["whitespace_option_cases"]:
        o = c["options"]
        out["whitespace"].append(render(c["template"], c["data"], o.get("trim_blocks", False),
                                        o.get("lstrip_blocks", False)))
    for c in json.load(open("../expected.json"))["cases"]:
        ctx = dict(messages=c["messages"], bos_token=c["bos_token"], eos_token=c["eos_token"],
                   add_generation_prompt=True)
        out["llamacpp"].append(render(c["template"], ctx))
    # every .jinja template of the folder on a short conversation (system, user, assistant, user, prompt)
    out["conversation"] = CONVERSATION
    out["templates"] = {}
    for path in sorted(glob.glob("../*.jinja")):
        name = os.path.basename(path)
        ctx = dict(messages=CONVERSATION, add_generation_prompt=True, bos_token="<s>", eos_token="</s>",
                   **EXTRA_CONTEXT.get(name, {}))
        out["templates"][name] = dict(render(open(path, encoding="utf-8").read(), ctx),
                                      extra_context=EXTRA_CONTEXT.get(name, {}))
    out["tools"] = TOOLS
    out["tool_conversation"] = TOOL_CONVERSATION
    out["tool_templates"] = {}
    for path in sorted(glob.glob("../*.jinja")):
        name = os.path.basename(path)
        ctx = dict(messages=TOOL_CONVERSATION, tools=TOOLS, add_generation_prompt=True, bos_token="<s>",
                   eos_token="</s>", **EXTRA_CONTEXT.get(name, {}))
        out["tool_templates"][name] = render(open(path, encoding="utf-8").read(), ctx)
    with open("reference.json", "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
