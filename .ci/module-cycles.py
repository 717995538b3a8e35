#!/usr/bin/env python3
"""Module circles in a crate, from the item graph `cargo modules dependencies` prints.

cargo-modules' own `--acyclic` judges items, where every method and its type use each
other; this lifts each "uses" edge to the modules that hold its two ends (a method's module
is its type's) and reports every strongly connected set of two or more modules.

Usage: cargo modules dependencies --lib -p CRATE --no-externs --no-sysroot --layout dot \
           | python3 .ci/module-cycles.py CRATE [FLOOR ...]
Each FLOOR, lowest first, names the crate's top-level modules on it, comma-separated
(`state,error`); given floors, a module that uses one on a higher floor is reported too.
Exit status 1 when there is a circle or a use from below.
"""
import re
import sys

NODE = re.compile(r'^\s*"([^"]+)" \[label="[^"]*"[^;]*; // "([^"]+)" node')
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')

modules, edges = set(), []
for line in sys.stdin:
    if m := NODE.match(line):
        if m.group(2) in ("mod", "crate"):
            modules.add(m.group(1))
    elif m := EDGE.match(line):
        edges.append((m.group(1), m.group(2)))


def module_of(path):
    while path not in modules and "::" in path:
        path = path.rsplit("::", 1)[0]
    return path if path in modules else None


graph = {m: set() for m in modules}
why = {}
for a, b in edges:
    ma, mb = module_of(a), module_of(b)
    if ma and mb and ma != mb:
        graph[ma].add(mb)
        why.setdefault((ma, mb), (a, b))

# Tarjan's strongly connected components, iteratively.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
for root in sorted(graph):
    if root in index:
        continue
    work = [(root, iter(sorted(graph[root])))]
    index[root] = low[root] = counter[0]
    counter[0] += 1
    stack.append(root)
    on.add(root)
    while work:
        node, children = work[-1]
        advanced = False
        for child in children:
            if child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on.add(child)
                work.append((child, iter(sorted(graph[child]))))
                advanced = True
                break
            if child in on:
                low[node] = min(low[node], index[child])
        if advanced:
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
            scc = []
            while True:
                top = stack.pop()
                on.discard(top)
                scc.append(top)
                if top == node:
                    break
            if len(scc) > 1:
                sccs.append(sorted(scc))

crate = sys.argv[1] if len(sys.argv) > 1 else "crate"
if not modules:
    print(f"{crate}: no module graph read", file=sys.stderr)
    sys.exit(2)

root = min(modules, key=len)
floor_of = {}
for level, names in enumerate(sys.argv[2:]):
    for name in names.split(","):
        floor_of[f"{root}::{name}"] = level


def top(module):
    parts = module.split("::")
    return "::".join(parts[:2])


upward = []
if floor_of:
    unplaced = sorted({top(m) for m in modules if m != root} - set(floor_of))
    for m in unplaced:
        upward.append(f"  {m} stands on no floor")
    for (a, b), (src, dst) in sorted(why.items()):
        fa, fb = floor_of.get(top(a)), floor_of.get(top(b))
        if fa is not None and fb is not None and fb > fa:
            upward.append(f"  {a} (floor {fa}) -> {b} (floor {fb})   ({src} uses {dst})")
if upward:
    print(f"{crate}: modules that use a floor above their own:")
    print("\n".join(upward))
if not sccs:
    print(f"{crate}: {len(modules)} modules, no circle")
    sys.exit(1 if upward else 0)
for scc in sccs:
    print(f"{crate}: a circle of {len(scc)} modules:")
    members = set(scc)
    for a in scc:
        for b in sorted(graph[a] & members):
            src, dst = why[(a, b)]
            print(f"  {a} -> {b}   ({src} uses {dst})")
sys.exit(1)
