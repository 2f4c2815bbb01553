"""Renders every case of ../hfjs_jinja_expected.json and ../expected.json with Python's Jinja2 configured as
transformers configures it for chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, the {% generation %} tag, tojson/raise_exception/strftime_now as transformers defines them),
and writes reference.json. The feature and whitespace cases use the options huggingface.js's tests use.

Run: python3 generate.py   (needs jinja2; the Java tests only read reference.json)
"""
import json
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


def render(template, context, trim=True, lstrip=True):
    env = ImmutableSandboxedEnvironment(trim_blocks=trim, lstrip_blocks=lstrip,
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
    with open("reference.json", "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
