"""Read the logs of a `make check-memory` run (AOR_VALGRIND=DIR, kam.py)
and sort what valgrind memcheck and Kamailio's q_malloc reported.

  python3 valgrind_report.py DIR

Module errors are valgrind errors (invalid reads and writes, uses of
uninitialised values, bad frees, definitely lost blocks) with a frame in
the aor module (aor.so, modules/aor/), and q_malloc guard-word reports
("BUG: qm: ...") naming one of its files; any is a failure (exit 1).
Errors whose stacks stay in Kamailio's core, other modules or libraries are
listed separately, each distinct stack once with its count; they do not
fail the run. Exit 2 when DIR holds no valgrind log (nothing was checked).
"""

import collections
import glob
import os
import re
import sys

MODULE_RE = re.compile(r"aor\.so|/modules/aor/|\b(aor_mod|binding|events|"
                       r"expire|lookup|merge|persist|reginfo|reply|rpc|"
                       r"rpc_reginfo|save|snapshot|stats|store)\.[ch]:")
FRAME_RE = re.compile(r"^\s+(at|by) 0x[0-9A-Fa-f]+: (.*)$")
NOT_ERRORS = ("Memcheck,", "Copyright", "Using Valgrind", "Command:",
              "Parent PID", "HEAP SUMMARY", "LEAK SUMMARY", "ERROR SUMMARY",
              "For lists of", "For counts of", "Rerun with", "in use at exit",
              "total heap usage", "All heap blocks", "Warning:",
              "To see them", "Reachable blocks", "definitely lost:",
              "indirectly lost:", "possibly lost:", "still reachable:",
              "suppressed:", "Process terminating", "If you believe")


def blocks(path):
    """The blocks of one valgrind log: lists of lines without the ==pid==
    prefix, split at the empty ones."""
    cur = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^==\d+== ?(.*)$", line.rstrip("\n"))
            if not m:
                continue
            text = m.group(1)
            if not text.strip():
                if cur:
                    yield cur
                cur = []
            else:
                cur.append(text)
    if cur:
        yield cur


def errors(path):
    """(kind, frames) of each error block in a valgrind log."""
    for b in blocks(path):
        head = b[0].strip()
        frames = [m.group(2) for m in map(FRAME_RE.match, b[1:]) if m]
        if not frames or head.startswith(NOT_ERRORS):
            continue
        # "Address 0x.. is 8 bytes inside a block ..." continues the
        # error above it; it has frames of its own, kept with it
        yield head, frames


def is_module(frames):
    return any(MODULE_RE.search(f) for f in frames)


def main(d):
    logs = sorted(glob.glob(os.path.join(d, "valgrind.*.log")))
    if not logs:
        print("check-memory: no valgrind logs in %s" % d)
        return 2
    mod, other = collections.Counter(), collections.Counter()
    where = {}
    summed = 0
    for path in logs:
        with open(path, errors="replace") as f:
            summed += sum(int(n) for n in re.findall(
                r"ERROR SUMMARY: (\d+) errors", f.read()))
        for head, frames in errors(path):
            # the kind without addresses and sizes, and the top frames
            kind = re.sub(r"0x[0-9A-Fa-f]+|\d+", "N", head)
            key = (kind, tuple(frames[:6]))
            (mod if is_module(frames) else other)[key] += 1
            where.setdefault(key, path)
    qm_mod, qm_other = [], []
    for path in sorted(glob.glob(os.path.join(d, "kamailio.*.log"))):
        with open(path, errors="replace") as f:
            for line in f:
                if "BUG: qm" in line or "BUG: fm" in line:
                    (qm_mod if MODULE_RE.search(line) or "aor:" in line
                     else qm_other).append(line.strip())

    print("check-memory: %d valgrind logs (one per Kamailio process) in %s"
          % (len(logs), d))
    for title, errs in (("errors in the aor module", mod),
                        ("errors elsewhere (Kamailio core, other modules, "
                         "libraries), not counted", other)):
        print("\n== %s: %d distinct, %d in all" % (title, len(errs),
                                                    sum(errs.values())))
        for (kind, frames), n in errs.most_common():
            print("-- %dx %s (e.g. %s)" % (n, kind,
                                          os.path.basename(where[(kind,
                                                                   frames)])))
            for fr in frames:
                print("     " + fr)
    print("\n== q_malloc guard words: %d in the module, %d elsewhere"
          % (len(qm_mod), len(qm_other)))
    for line in qm_mod + qm_other:
        print("   " + line)
    parsed = sum(mod.values()) + sum(other.values())
    print("\n== valgrind's own ERROR SUMMARY lines: %d errors (%d read "
          "above)" % (summed, parsed))
    bad = sum(mod.values()) + len(qm_mod)
    if summed > parsed:
        print("check-memory: valgrind counted errors this report could not "
              "read; see the logs")
        bad += summed - parsed
    print("\ncheck-memory: %s" % ("%d error(s) in the aor module" % bad
                                  if bad else "no error in the aor module"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/valgrind"))
