#!/usr/bin/env python3
"""layering: the shape of the tree, checked (docs/architecture.md).

Two graphs, both derived from what is built, never from a list kept by hand:
  - the include graph: every `#include "dir/file.h"` in the sources;
  - the link graph: for each object in BUILD (make's build/rel by default),
    which other objects define the symbols it uses (nm).
A unit is one .c/.h pair (ca/issue.c and ca/issue.h are one unit), so a
header shared by two .c files that call each other still shows the cycle in
the link graph.

It fails (exit 1) on
  - an include of a header private to its folder (PUBLIC: the seams of
    ca/ and shard/),
  - a folder edge against the allowed direction
        common <- ca <- {ocsp, crl} -> shard <- feed <- node <- cmd
                   ca <- acme <- node
    (an arrow points at what depends: ocsp and crl use ca and shard; acme,
    the ACME front end, uses ca; node uses them all; cmd uses node), and
  - a cycle between units, in either graph.
tests/ and bench/ may use anything and are not checked.

usage: tests/layering.py [--build DIR | --includes-only] [--root DIR]
"""
import os
import re
import subprocess
import sys

# What each folder may use, besides itself.
ALLOWED = {
    "common": set(),
    "ca": {"common"},
    "acme": {"common", "ca"},
    "shard": {"common"},
    "ocsp": {"common", "ca", "shard"},
    "crl": {"common", "ca", "shard"},
    "feed": {"common", "ca", "ocsp", "crl", "shard"},
    "node": {"common", "ca", "acme", "ocsp", "crl", "shard", "feed"},
    "cmd": {"common", "ca", "acme", "ocsp", "crl", "shard", "node", "feed"},
}
# The ways into a folder from outside it: its seams. Anything else in ca/
# (its index keys, records, log, keys) or shard/ (its connections and event
# loops) is private to the folder; tests/ may reach in.
PUBLIC = {
    "ca": {"ca/ca", "ca/view", "ca/signer", "ca/responder", "ca/cred", "ca/keyfile", "ca/pkcs11"},
    "shard": {"shard/server", "shard/config", "shard/route", "shard/handler", "shard/http", "shard/httpout",
              "shard/metrics"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def unit_of(path):
    return os.path.splitext(path)[0]


def folder_of(unit):
    return unit.split("/", 1)[0]


def sources(root):
    out = []
    for d in ALLOWED:
        p = os.path.join(root, d)
        if not os.path.isdir(p):
            continue
        for name in sorted(os.listdir(p)):
            if name.endswith((".c", ".h")):
                out.append(d + "/" + name)
    return out


def include_graph(root, files):
    g = {}
    for f in files:
        u = unit_of(f)
        g.setdefault(u, {})
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            if "/" not in inc:  # a file beside it: the same folder
                inc = f.split("/", 1)[0] + "/" + inc
            v = unit_of(inc)
            if v != u:
                g[u].setdefault(v, f + " includes " + inc)
    return g


def link_graph(root, build):
    objs = []
    for d in ALLOWED:
        p = os.path.join(root, build, d)
        if os.path.isdir(p):
            # Only objects whose source is still there (a stale one, of a
            # file moved away, is not part of the program any more).
            objs += [d + "/" + n for n in sorted(os.listdir(p))
                     if n.endswith(".o") and os.path.isfile(os.path.join(root, d, n[:-2] + ".c"))]
    defined, undefined = {}, {}
    for o in objs:
        out = subprocess.run(["nm", "-g", os.path.join(root, build, o)], capture_output=True, text=True,
                             check=True).stdout
        u = unit_of(o)
        undefined[u] = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefined[u].add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRVWC":
                defined.setdefault(parts[2], u)
    g = {}
    for u, syms in undefined.items():
        g.setdefault(u, {})
        for s in sorted(syms):
            v = defined.get(s)
            if v and v != u:
                g[u].setdefault(v, u + ".o calls " + s)
    return g


def sccs(g):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]
    nodes = set(g) | {v for es in g.values() for v in es}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(g.get(root, {}))))]
        index[root] = low[root] = n[0]; n[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = n[0]; n[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(g.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def check(name, g):
    bad = 0
    for u in sorted(g):
        for v, why in sorted(g[u].items()):
            fu, fv = folder_of(u), folder_of(v)
            if fu == fv or fu not in ALLOWED:
                continue
            if fv not in ALLOWED[fu]:
                print(f"layering: {name}: {fu} -> {fv} is against the direction: {why}")
                bad += 1
            elif name == "includes" and fv in PUBLIC and v not in PUBLIC[fv]:
                print(f"layering: {name}: {v} is private to {fv}/ (its seams: "
                      f"{', '.join(sorted(PUBLIC[fv]))}): {why}")
                bad += 1
    for comp in sccs(g):
        print(f"layering: {name}: a cycle between {', '.join(comp)}:")
        for u in comp:
            for v, why in sorted(g.get(u, {}).items()):
                if v in comp:
                    print(f"    {why}")
        bad += 1
    return bad


def main(argv):
    root, build = ".", "build/rel"
    i = 1
    while i < len(argv):
        if argv[i] == "--includes-only":
            build = None; i += 1
        elif argv[i] == "--build" and i + 1 < len(argv):
            build = argv[i + 1]; i += 2
        elif argv[i] == "--root" and i + 1 < len(argv):
            root = argv[i + 1]; i += 2
        else:
            print(__doc__.strip().splitlines()[-1], file=sys.stderr)
            return 2
    files = sources(root)
    bad = check("includes", include_graph(root, files))
    if build is None:
        pass
    elif os.path.isdir(os.path.join(root, build)):
        bad += check("links", link_graph(root, build))
    else:
        print(f"layering: no {build}: the link graph is not checked", file=sys.stderr)
        bad += 1
    units = {unit_of(f) for f in files}
    print(f"layering: {len(units)} units in {len({folder_of(u) for u in units})} folders, "
          f"{'ok' if not bad else str(bad) + ' problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
