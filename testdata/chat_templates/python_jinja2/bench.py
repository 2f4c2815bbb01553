"""Python Jinja2 renders/s for docs/BENCHMARKS.md: python3 bench.py ../meta-llama-Llama-3.1-8B-Instruct.jinja ..."""
import sys, time
sys.path.insert(0, __import__('os').path.dirname(__file__))
import generate
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
def conv(turns):
    m=[{"role":"system","content":"You are a helpful assistant. Answer concisely and cite sources."}]
    for i in range(turns):
        m.append({"role":"user","content":"Question %d: how does a transformer's attention scale with sequence length, and what can be done about it?" % i})
        m.append({"role":"assistant","content":"Answer %d: self-attention costs O(n^2) in time and memory. Sparse, linear or sliding-window attention, and FlashAttention-style tiling, reduce the cost in practice." % i})
    m.append({"role":"user","content":"Thanks! One more question?"})
    return m
for f in sys.argv[1:]:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[generate.AssistantTracker, loopcontrols])
    env.filters["tojson"] = generate.tojson; env.globals["raise_exception"] = generate.raise_exception; env.globals["strftime_now"] = generate.strftime_now
    t = env.from_string(open(f).read())
    ctx = dict(messages=conv(10), add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    out = t.render(**ctx)
    for _ in range(200): t.render(**ctx)
    n=0; s=time.perf_counter()
    while time.perf_counter()-s < 10: t.render(**ctx); n+=1
    print(f, len(out), "chars", round(n/(time.perf_counter()-s)), "renders/s")
