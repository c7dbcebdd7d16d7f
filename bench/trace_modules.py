"""``python -m bench.trace_modules OUT AUDIO_DIR``: one recording's trip through builder's modules.

Builds ``birdclef-mel`` at ``-j 1`` on AUDIO_DIR (one class folder holding one file) under a profiler
and prints JSON (after the build's own summary line): the modules entered, in order, with the call that first entered each
(``first_entry``), the number of distinct cross-module calls, and every call that goes up the layers
of docs/internals.md (``calls_up_the_layers``: a lower package calling into a higher one, which only
a callback can do once imports point down). Imports (module bodies) are not counted.
"""
import sys, threading, json, os
from pathlib import Path
import builder
PKG = os.path.dirname(builder.__file__)
RANK = {"cli": 0, "pipeline": 1, "publish": 2, "look": 2, "layouts": 3, "card": 4, "run": 5, "plan": 6, "sources": 7, "store": 7, "config": 8, "dsp": 9, "errors": 10}
seq = []  # (caller_mod, callee_mod, callee_func)
stack = []
def mod_of(code):
    f = code.co_filename
    if not f.startswith(PKG):
        return None
    rel = os.path.relpath(f, PKG)[:-3].replace(os.sep, ".")
    return rel.removesuffix(".__init__")
def prof(frame, event, arg):
    if event != "call":
        return
    m = mod_of(frame.f_code)
    if m is None:
        return
    back = frame.f_back
    cm = None
    while back is not None:
        cm = mod_of(back.f_code)
        if cm is not None:
            break
        back = back.f_back
    if cm != m and frame.f_code.co_name != "<module>":
        seq.append((cm, m, frame.f_code.co_name))
sys.setprofile(prof); threading.setprofile(prof)
from builder.cli.main import run
sys.argv = ["spectroset", "build", "birdclef-mel", "--set", f"source.path={sys.argv[2]}", "-o", sys.argv[1], "-j", "1", "--quiet"]
try:
    run()
except SystemExit:
    pass
sys.setprofile(None); threading.setprofile(None)
modules, first = [], []
for c, m, f in seq:
    if m not in modules:
        modules.append(m); first.append(f"{c} -> {m}.{f}")
edges = []
for c, m, f in seq:
    if (c, m, f) not in edges:
        edges.append((c, m, f))
up = [(c, m, f) for c, m, f in edges if c and RANK[c.split(".")[0]] > RANK[m.split(".")[0]]]
print(json.dumps({"modules": modules, "n_modules": len(modules), "cross_module_calls": len(edges),
                  "calls_up_the_layers": up, "first_entry": first}, indent=1))
