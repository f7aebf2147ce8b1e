#!/usr/bin/env python3
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# Checks the layering rules of modules/aor/ (../shared/DESIGN.md, "Inside
# the module"), with nothing but the sources:
#  1. only ops.c takes slot locks: no other file calls aor_table_lock,
#     aor_table_unlock, aor_lockset_get or aor_lockset_release;
#  2. the include graph has no cycle, a file x.c and its header x.h taken
#     as one node (so "a.c includes b.h, b.c includes a.h" is a cycle);
#  3. the pure files include no SIP parser header and name no sip_msg;
#  4. every header declares what it uses: it compiles on its own (pure
#     headers with -DAOR_UNIT_TEST, the others against KAMAILIO_SRC when
#     given).
# Prints each violation and "N passed, N failed" (one check per rule);
# exits 1 when a rule is broken.

import os
import re
import shlex
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOD = os.path.join(TOP, "modules", "aor")

PURE = ["binding", "store", "journal", "merge", "ops", "hash", "gruu", "uri",
        "uri_split",
        "reginfo", "snapshot", "replfmt"]
LOCKERS = {"ops.c"}
LOCK_CALLS = re.compile(
    r"\b(aor_table_lock|aor_table_unlock|aor_lockset_get|aor_lockset_release)"
    r"\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources():
    return sorted(f for f in os.listdir(MOD) if f.endswith((".c", ".h")))


def read(f):
    with open(os.path.join(MOD, f), encoding="utf-8") as fh:
        return fh.read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def check_locks():
    bad = []
    for f in sources():
        if f in LOCKERS or f in ("store.h", "sys.h"):
            continue  # ops.c locks; store.h and sys.h define the calls
        for n, line in enumerate(strip_comments(read(f)).splitlines(), 1):
            if LOCK_CALLS.search(line):
                bad.append("%s:%d: takes a slot lock outside ops.c: %s"
                           % (f, n, line.strip()))
    return bad


def graph():
    g = {}
    for f in sources():
        node = f.rsplit(".", 1)[0]
        for inc in INCLUDE.findall(read(f)):
            if "/" in inc:
                continue  # Kamailio's and libxml2's headers
            dep = inc.rsplit(".", 1)[0]
            if dep != node:
                g.setdefault(node, set()).add(dep)
        g.setdefault(node, set())
    return g


def check_cycles():
    g = graph()
    state, stack, bad = {}, [], []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d]
                bad.append("include cycle: " + " -> ".join(cyc))
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    return bad


def check_pure():
    bad = []
    for node in PURE:
        for ext in (".c", ".h"):
            f = node + ext
            if not os.path.exists(os.path.join(MOD, f)):
                continue
            text = strip_comments(read(f))
            for inc in INCLUDE.findall(text):
                if "/parser/" in inc or inc.endswith("msg_parser.h"):
                    bad.append("%s: pure file includes %s" % (f, inc))
            if re.search(r"\bsip_msg(_t)?\b", text):
                bad.append("%s: pure file names struct sip_msg" % f)
    return bad


def compile_header(h, flags):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "h.c")
        with open(src, "w") as fh:
            fh.write('#include "%s"\n' % h)
        r = subprocess.run(["gcc", "-std=gnu11", "-fsyntax-only"] + flags
                           + [src], capture_output=True, text=True)
        return r.returncode == 0, r.stderr


def check_headers():
    ksrc = os.environ.get("KAMAILIO_SRC", "")
    if not ksrc:
        for d in sorted(os.listdir(os.path.join(TOP, "build"))
                        if os.path.isdir(os.path.join(TOP, "build")) else []):
            if d.startswith("kamailio-") and os.path.isdir(
                    os.path.join(TOP, "build", d, "src", "core")):
                ksrc = os.path.join(TOP, "build", d)
                break
    if not ksrc:
        return ["no Kamailio tree (KAMAILIO_SRC): headers not compiled"]
    return compile_headers(ksrc)


def kamailio_defs(ksrc):
    """C_DEFS of the tree's config.mak (make cfg), as the modules get them"""
    try:
        with open(os.path.join(ksrc, "src", "config.mak")) as fh:
            for line in fh:
                if line.startswith("C_DEFS="):
                    return shlex.split(line[len("C_DEFS="):])
    except OSError:
        pass
    return []


def compile_headers(ksrc):
    xml = subprocess.run(["xml2-config", "--cflags"], capture_output=True,
                         text=True).stdout.split()
    glue_flags = ["-I" + os.path.join(ksrc, "src")] + kamailio_defs(ksrc) \
        + xml
    bad = []
    # the glue's headers include "../../core/...": compile copies of them
    # from a directory of Kamailio's tree, as Makefile.modules would
    with tempfile.TemporaryDirectory(
            dir=os.path.join(ksrc, "src", "modules")) as copy:
        for f in sources():
            if f.endswith(".h"):
                with open(os.path.join(copy, f), "w") as fh:
                    fh.write(read(f))
        for f in sources():
            if not f.endswith(".h"):
                continue
            node = f[:-2]
            if node in PURE or node in ("sys", "errors"):
                flags = ["-DAOR_UNIT_TEST", "-I" + os.path.join(
                    ksrc, "src", "modules", "sl"), "-I" + MOD] + xml
                path = os.path.join(MOD, f)
            else:
                flags = glue_flags
                path = os.path.join(copy, f)
            ok, err = compile_header(path, flags)
            if not ok:
                first = err.strip().splitlines()[:3]
                bad.append("%s does not compile on its own: %s"
                           % (f, " | ".join(first)))
    return bad


def main():
    checks = [("only ops.c takes slot locks", check_locks),
              ("the include graph has no cycle", check_cycles),
              ("pure files see no SIP parser", check_pure),
              ("each header compiles on its own", check_headers)]
    passed = failed = 0
    for name, fn in checks:
        bad = fn()
        if bad:
            failed += 1
            print("not ok %s" % name)
            for b in bad:
                print("    " + b)
        else:
            passed += 1
            print("ok %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
