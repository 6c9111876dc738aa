#!/usr/bin/env python3
"""No include cycle between the modules of agent/ or ctl/ (issue 17's structure rule).

A module is a .c file with its .h (and its _impl.h/_priv.h); module A depends on module B when
a file of A includes B's header. A cycle (A -> B -> ... -> A) means the two cannot be read,
tested or moved apart. Prints every cycle found and exits 1, or exits 0.
Usage: include_cycles.py SOURCE_DIR
"""
import os
import re
import sys


def module(path):
    base = os.path.basename(path).rsplit(".", 1)[0]
    return re.sub(r"_(impl|priv)$", "", base)


def graph(root):
    files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith((".c", ".h"))]
    names = {module(f) for f in files}
    edges = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        for inc in re.findall(r'#include "([^"]+)\.h"', text):
            target = module(inc)
            if target in names and target != module(f):
                edges.setdefault(module(f), set()).add(target)
    return edges


def cycles(edges):
    found = set()

    def walk(node, path):
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                c = path[path.index(nxt):]
                k = min(range(len(c)), key=lambda i: c[i])
                found.add(tuple(c[k:] + c[:k]))
            elif len(path) < 32:
                walk(nxt, path + [nxt])

    for n in sorted(edges):
        walk(n, [n])
    return sorted(found)


def main():
    src = sys.argv[1]
    bad = 0
    for room in ("agent", "ctl"):
        for c in cycles(graph(os.path.join(src, room))):
            print(f"{room}/: include cycle {' -> '.join(c + (c[0],))}")
            bad = 1
    if not bad:
        print("no include cycle in agent/ or ctl/")
    return bad


if __name__ == "__main__":
    sys.exit(main())
