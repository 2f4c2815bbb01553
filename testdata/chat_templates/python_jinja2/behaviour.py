"""Language-feature renders of Python's Jinja2 (transformers' settings, see generate.py) -> behaviour.json.

Each case is one template exercising a group of features (number formatting, repr, slicing, str/dict
methods, filters, tests, loops, macros, scoping, undefined values, literals); the Java tests must produce
exactly the same text. Run: python3 behaviour.py
"""
import copy
import json

from generate import render
ctx = {"d": {"a": 1, "b": [1, 2.5, None, True, "x'y"], "items": "key"}, "s": "  Hello World  ", "n": 7, "f": 2.5,
       "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}, {"role": "user", "content": "ok"}],
       "e": "héllo 🤗 wörld", "z": None}
T = [
 "{{ 1.0 }}|{{ 1e16 }}|{{ 1.5e-5 }}|{{ 10/4 }}|{{ 7//2 }}|{{ -7//2 }}|{{ -7 % 3 }}|{{ 2**10 }}|{{ 0.1+0.2 }}|{{ 1/3 }}|{{ 100000000000000000.0 }}|{{ 123456789.123 }}|{{ 3 * 1.5 }}",
 "{{ d }}|{{ d.b }}|{{ (1,) }}|{{ (1, 'a') }}|{{ d['b'][1:] }}|{{ d.b[::-1] }}|{{ d.b[-2:] }}|{{ 'abcdef'[1:5:2] }}|{{ e[1:4] }}|{{ e|length }}",
 "{{ d['items'] }}|{{ d.get('a') }}|{{ d.get('zz', 5) }}|{{ d.keys()|list }}|{{ d.values()|list|length }}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
 "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ s.upper() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('b') }}|{{ '-'.join(['a','b']) }}|{{ 'x\\ny\\r\\nz'.splitlines() }}|{{ s.startswith('  He') }}|{{ 'abc'.endswith(('x','c')) }}",
 "{{ s|trim }}|{{ 'hello world'|title }}|{{ 'hello WORLD'|capitalize }}|{{ 'abc'|upper }}|{{ 'a b c'|wordcount }}|{{ 'abc'|center(9) }}|{{ '<a href=\"x\">t &amp; u</a>'|striptags }}|{{ '<&>\"\\''|e }}|{{ 'aaa'|replace('a','b',2) }}|{{ [3,1,2]|sort }}|{{ [3,1,2]|sort(reverse=true) }}|{{ ['b','A','a']|unique|list }}|{{ [1,2,3]|sum }}|{{ [1,5,3]|max }}|{{ ['B','a']|min }}|{{ [1,2,3,4,5]|batch(2)|list }}|{{ [1,2,3,4,5]|slice(2)|list }}|{{ range(5)|reverse|list }}",
 "{{ msgs|map(attribute='role')|join(',') }}|{{ msgs|selectattr('role','equalto','user')|list|length }}|{{ msgs|rejectattr('role','eq','user')|map(attribute='content')|first }}|{{ msgs|map(attribute='content')|map('upper')|list }}|{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3,4]|reject('even')|list }}|{{ msgs|groupby('role')|map(attribute='grouper')|list }}|{{ {'b':1,'a':2}|dictsort }}|{{ {'b':1,'a':2}|dictsort(by='value', reverse=true) }}|{{ msgs|last }}|{{ msgs|first|tojson }}",
 "{{ 'x'|tojson }}|{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ e|tojson }}|{{ e|tojson(ensure_ascii=true) }}|{{ {'a':[]}|tojson(separators=(',',':')) }}|{{ {'b':1,'a':2}|tojson(sort_keys=true) }}|{{ 1.0|tojson }}|{{ '\\u0001\\t'|tojson }}",
 "{{ '3'|int + 1 }}|{{ '3.7'|int }}|{{ 'x'|int(9) }}|{{ 3.9|int }}|{{ '0x1A'|int(base=16) }}|{{ '2.5'|float }}|{{ 'z'|float }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(method='ceil') }}|{{ -3|abs }}|{{ 'abc'|list }}|{{ 42|string + 'x' }}|{{ none|string }}|{{ '%s and %d'|format('a', 3) }}|{{ '{} is {:.2f}'.format('pi', 3.14159) }}|{{ '%05.1f|%-4s|'|format(3.14159, 'ab') }}",
 "{{ 'line1\\nline2\\n\\nline4'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(3, blank=true) }}|{{ 'hello world foo'|truncate(9) }}|{{ 'hello world foo bar baz'|truncate(12, killwords=true) }}",
 "{% for m in msgs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('a','b') }}{{ loop.previtem.role if loop.previtem is defined }}{{ loop.nextitem.role if not loop.last }};{% endfor %}",
 "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i > 4 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}|{% for i in range(6) if i is odd %}{{ i }}{{ loop.length }}{% endfor %}",
 "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{{ varargs }}{{ kwargs }}{% endmacro %}{{ greet('A') }}|{{ greet('B', greeting='Hi') }}|{{ greet('C', 'Yo', 1, x=2) }}|{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}|{% macro li(x) %}<{{ caller(x * 2) }}>{% endmacro %}{% call(v) li(3) %}v={{ v }}{% endcall %}",
 "{% set ns = namespace(count=0, items=[]) %}{% for m in msgs %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ ns.count }}|{% set x %}block {{ n }}{% endset %}{{ x }}|{% set y | upper %}shout{% endset %}{{ y }}|{% filter upper %}abc{{ n }}{% endfilter %}|{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}|{% set p, q = 1, 2 %}{{ p }}{{ q }}|{% set t = (1, 2) %}{{ t }}",
 "{{ x }}|{{ x|length }}|{% for a in x %}no{% endfor %}|{{ x is defined }}|{{ x is undefined }}|{{ x|default('dflt') }}|{{ d.missing }}|{{ d.missing is defined }}|{{ none.foo }}|{{ x == y }}|{{ x ~ 'a' }}|{{ 'a' if x else 'b' }}|{{ 'z' if false }}|{{ x|string }}|{{ x in [1] }}|{{ 1 in x }}|{{ [x]|length }}",
 "{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 'a' < 'b' }}|{{ [1,2] < [1,3] }}|{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'ab' ~ 1 ~ none ~ true }}|{{ not none }}|{{ none is none }}|{{ 1 is number }}|{{ true is number }}|{{ 1.5 is float }}|{{ 1 is integer }}|{{ [] is sequence }}|{{ {} is mapping }}|{{ 'a' is iterable }}|{{ 6 is divisibleby 3 }}|{{ 3 is in [1,2,3] }}|{{ greet is callable }}|{{ range is callable }}|{{ 'ABC' is upper }}|{{ 2 is ge 1 }}|{{ 1 is sameas 1 }}|{{ none is sameas none }}",
 "{{ -n }}|{{ +n }}|{{ n - 2 * 3 }}|{{ (n - 2) * 3 }}|{{ 2 ** 3 ** 2 }}|{{ -2 ** 2 }}|{{ n // 2 ~ 'x' }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ [1,2] + [3] }}|{{ n if n > 5 else 0 }}|{{ n > 5 and 'big' or 'small' }}|{{ n is odd and n is not even }}|{{ 'Ab' + 'c' | upper }}|{{ -1|abs }}",
 "{{ \"it's\" }}|{{ 'say \"hi\"' }}|{{ '\\x41\\u00e9\\U0001F917\\t|' }}|{{ 'a' 'b' }}|{{ ['it\\'s', \"q\\\"\"] }}|{{ 1_000 }}|{{ 0.5e2 }}",
 "{{ \"a'\"|safe + \"b'<\" }}|{{ '<x>' + 'y'|safe }}|{{ '<' ~ 'y'|safe }}|{{ '<'|e }}|{{ '<'|e|e }}|{{ '<'|e + '<' }}|{{ 'x'|safe is string }}|{{ 'a'|safe == 'a' }}|{{ 'a\\''|safe|tojson }}|{{ ('<b>%s</b>'|safe) % '&' }}|{{ 'a'|safe|length }}|{{ '<p>'|forceescape }}|{{ ('x'|safe + d.b|tojson) }}|{{ '&'|e is escaped }}",
 "{% set tree = [{'n': 'a', 'c': [{'n': 'b', 'c': []}, {'n': 'c', 'c': [{'n': 'd', 'c': []}]}]}] %}{% for x in tree recursive %}{{ loop.depth }}{{ x.n }}({{ loop(x.c) }}){% endfor %}|{% for v in [1,1,2,3,3] %}{% if loop.changed(v) %}{{ v }}{% endif %}{% endfor %}|{% for a in [1,2] %}{% set outer = loop %}{% for b in [3,4] %}{{ outer.index }}{{ loop.index }}{% endfor %}{% endfor %}|{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}|{% macro m(a, b=a * 2) %}{{ a }}{{ b }}{% endmacro %}{{ m(3) }}|{{ m(b=1, a=2) }}|{% set j = joiner('+') %}{% for i in [1,2,3] %}{{ j() }}{{ i }}{% endfor %}",
 "{{ [1, 2, 3]|map('string')|join }}|{{ ['a', 'b']|map('upper')|list }}|{{ [{'a': {'b': 5}}]|map(attribute='a.b')|list }}|{{ [{'x': 1}, {}]|map(attribute='x', default=0)|list }}|{{ [[1,2],[3]]|map('length')|list }}|{{ [1,None,0,'',2]|select|list }}|{{ ['a','bb','ccc']|select('ne','bb')|list }}|{{ [3,1,2]|sort|first }}|{{ [{'k': 2}, {'k': 1}]|sort(attribute='k')|map(attribute='k')|list }}|{{ {'x': 1}|items|list }}|{{ [1,2,3]|sum(start=10) }}|{{ [[1],[2]]|sum(start=[]) }}|{{ 'ab'|list|reverse|join }}|{{ range(3) }}|{{ range(1, 10, 3)|list }}|{{ dict(a=1, b=2) }}",
 "{{ messages is defined }}|{{ msgs[0] is mapping }}|{{ msgs[0]['role'] is string }}|{{ msgs|length is number }}|{{ msgs[1:]|map(attribute='role')|list }}|{{ msgs[-1].content }}|{{ msgs[0].get('tool_calls') is none }}|{{ msgs[0].tool_calls is defined }}|{{ (msgs|selectattr('role', 'in', ['user', 'system'])|list)|length }}|{{ msgs|selectattr('content', 'string')|list|length }}|{{ msgs|map(attribute='content')|select('equalto', 'hi')|list }}",
 "{{ {'a': 1}.items() }}|{{ {'a': 1}.keys() }}|{{ {'a': 1}.values() }}|{{ {'a': 1}.items()|length }}|{{ 'a' in {'a': 1}.keys() }}|{{ {'a': 1}.keys()|list == ['a'] }}|{{ {'a': 1}.keys() == ['a'] }}|{{ range(3) == [0, 1, 2] }}|{{ (1, 2) == [1, 2] }}|{{ {'a': 1}.items()|first }}|{{ d.items()|map('first')|list }}",
 "{{ {'a': 1}.keys()[0] }}|{{ none[0] }}|{{ 5[0] }}|{{ (x|default([1]))[0] }}",
 "{{ z[1:] }}",
 "{{ d.items()|tojson }}",
 "{{ x in 'abc' }}", "{{ x|int }}", "{{ x|dictsort }}", "{{ x|indent }}", "{{ x|round }}", "{{ x|abs }}", "{{ x < 1 }}",
 "{{ x == none }}|{{ x|upper }}|{{ x|trim }}|{{ x|join(',') }}|{{ x|first }}|{{ x|list }}|{{ x|sort }}|{{ x|string }}|{{ x|items|list }}|{{ x|map('upper')|list }}|{{ x ~ 1 }}|{{ x|replace('a', 'b') }}|{{ x|default(1, true) }}|{{ x|unique|list }}|{{ x|count }}|{{ x|batch(2)|list }}|{{ x|sum }}|{{ x|max }}|{{ x|selectattr('a')|list }}|{{ x|title }}|{{ x|e }}|{{ x|safe }}|{% for a, b in x %}{% endfor %}|{{ x is string }}|{{ x is iterable }}|{{ x is sequence }}|{{ x is mapping }}|{{ x is none }}|{{ x is number }}|{{ x is lower }}",
 "{{ x|tojson }}", "{{ x * 2 }}", "{{ 'a' * x }}", "{{ x is odd }}",
 "{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}{{ c.reset() }}{{ c.current }}",
 "{{ 1|filesizeformat }}|{{ 999|filesizeformat }}|{{ 1000|filesizeformat }}|{{ 123456789|filesizeformat }}|{{ 123456789|filesizeformat(true) }}|{{ 1e30|filesizeformat }}|{{ '2048'|filesizeformat(binary=true) }}",
 "{{ 'a b/c?d=é&'|urlencode }}|{{ {'a b': 'c/d', 'x': 1}|urlencode }}|{{ [('k', 'v w')]|urlencode }}",
 "<p{{ {'class': 'x<y', 'id': none, 'data-a': '1'}|xmlattr }}>|<p{{ {'a': 1}|xmlattr(false) }}>",
 "{{ {'a b': 1}|xmlattr }}",
 "{{ raise_exception('no ' ~ 'way') if n > 100 else 'fine' }}|{{ strftime_now('%Y-%m-%d %H:%M %b %A %j %-d') }}",
]
# lexer whitespace handling under every combination of trim_blocks, lstrip_blocks, keep_trailing_newline
W = [
 "a\n  {% if true %}\n  b\n  {% endif %}\n c\n",
 "x  {%- if true -%}  y  {%- endif -%}  z",
 "  {%+ if true %}\n a\n  {% endif +%}\nb",
 "\t {# comment #}\n\t{#- c -#}  \n end\n\n",
 "{% raw %}\n  {{ not parsed }} {% if %}\n  {% endraw %}\nafter",
 "  {%- raw -%}  keep {{ x }}  {%- endraw -%}  ",
 "{{ 1 -}}   \n  {{- 2 }}  {{ 3 }}\n",
 "line1\r\nline2\r  {% if true %}\r\nx{% endif %}\r\n",
 "{% for i in [1, 2] %}\n    {{ i }}\n{% endfor %}\n",
 "<ul>\n{% for i in [1, 2] -%}\n  <li>{{ i }}</li>\n{% endfor -%}\n</ul>",
 "{% macro m(x) %}\n  [{{ x }}]\n{% endmacro %}\n{{ m(1) }}{{ m(2) }}",
 "{% set x %}\n  inner\n{% endset %}\n|{{ x }}|",
 "  {{ 'var at line start' }}\n  {% if true %}ok{% endif %}",
 "{{ {'a': {'b': 1}} }}|{{ [[1]] }}|{% if {'k': 1}['k'] %}yes{% endif %}",
]
ws = []
for t in W:
    for trim in (False, True):
        for lstrip in (False, True):
            for keep in (False, True):
                ws.append(dict(template=t, trim_blocks=trim, lstrip_blocks=lstrip, keep_trailing_newline=keep,
                               **render(t, {}, trim, lstrip, keep)))
# every filter, operator and test applied to a value of each type (None, int, float, list, str, dict, bool);
# each render gets a fresh copy of the context (Jinja2's indent filter extends a list argument in place)
mctx = {"z": None, "n": 5, "f": 2.5, "l": [3, 1, 2], "s": "Hi", "d": {"b": 1, "a": 2}, "t": True}
M = []
for v in mctx:
    for flt in ["trim", "length", "tojson", "string", "upper", "lower", "title", "capitalize", "first", "last", "list",
                "join", "sort", "unique|list", "reverse|list", "int", "float", "abs", "round", 'default("x")',
                'default("x", true)', "items|list", "dictsort", "e", "safe", "wordcount", "center(6)", "indent(2)",
                'replace("1","x")', "sum", "min", "max", "batch(2)|list", "count", "striptags", "truncate(3)",
                'map("string")|list', "select|list", "pprint"]:
        M.append("{{ %s|%s }}" % (v, flt))
    for op in ["+ 1", "~ 1", "* 2", "+ 'a'", "> 1", "== 5", "in [5]", "is defined", "is string", "is iterable",
               "is sequence", "is mapping", "is number", "is integer", "is float", "is boolean", "is true", "is none",
               "is callable"]:
        M.append("{{ %s %s }}" % (v, op))
    for acc in ["[0]", "[1:]", ".a", "['a']", '.get("a")', ".items()", ".upper()", ".strip()", ".split()"]:
        M.append("{{ %s%s }}" % (v, acc))
matrix = [dict(template=t, **render(t, copy.deepcopy(mctx))) for t in M]
# str methods and filters on strings (incl. special casing), number formatting and arithmetic, mixed-type ops
# (integers beyond 64 bits are left out: Crucible refuses them, see TemplateSafetyTest)
sctx = {"s": "  Hello, World! héllo  ", "e": "", "u": "ÄbC ß ǅ", "m": "a\tb\nc\r\nd  e"}
S = []
for v in sctx:
    for meth in ['strip()','strip(" H")','lstrip()','rstrip("  ")','split()','split(",")','split(" ", 1)','rsplit(None, 1)','rsplit("l", 2)','splitlines()','splitlines(true)','startswith(" ")','startswith(("a","  H"))','endswith("  ")','replace("l","L")','replace("l","L",1)','upper()','lower()','title()','capitalize()','swapcase()','find("l")','rfind("l")','find("l", 5)','count("l")','center(30, "*")','ljust(28, "-")','rjust(28)','zfill(30)','partition(",")','rpartition("l")','removeprefix("  He")','removesuffix("  ")','isdigit()','isalpha()','isspace()','isupper()','islower()','istitle()','index("o")','join(["x","y"])','format()','expandtabs()','casefold()','isalnum()']:
        S.append('{{ %s.%s }}' % (v, meth))
    for f in ['length','wordcount','title','capitalize','upper','center(31)','trim','striptags','indent(2, true)','truncate(10)','list|length','reverse','e','tojson','tojson(ensure_ascii=true)','first','last','string|length']:
        S.append('{{ %s|%s }}' % (v, f))
nums = [0, -0.0, 1, -7, 2.5, 1e16, 1e-5, 123456789012345678, 0.1, 1/3, 5e-324, 100.0, 1234.5678, -2.675]
for x in nums:
    S.append('{{ %r }}|{{ %r|round(2) }}|{{ %r|int }}|{{ %r|string }}|{{ %r|tojson }}|{{ %r * 3 }}|{{ %r // 3 }}|{{ %r %% 3 }}|{{ %r / 4 }}|{{ %r|abs }}' % ((x,)*10))
for a in ['1', '2.0', 'true', 'none', "'a'", '[1]', '(1,)']:
    for b in ['1', '2.0', 'false', 'none', "'b'", '[2]']:
        S.append('{{ %s == %s }}|{{ %s != %s }}|{{ %s < %s }}' % (a, b, a, b, a, b))
        S.append('{{ %s + %s }}' % (a, b))
strings = [dict(template=t, **render(t, copy.deepcopy(sctx))) for t in S]
out = [dict(template=t, **render(t, ctx)) for t in T]
with open("behaviour.json", "w") as f:
    json.dump({"context": ctx, "cases": out, "whitespace": ws, "matrix_context": mctx, "matrix": matrix,
               "strings_context": sctx, "strings": strings}, f, ensure_ascii=False, indent=1)
    f.write("\n")
