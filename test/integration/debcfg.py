"""Debian's /etc/kamailio/kamailio.cfg under test: the two-line swap to
aor and the adaptation to a test directory.

swap(text, aor_so): what a user does, and nothing else: the `loadmodule`
lines of usrloc.so and registrar.so become one `loadmodule` of aor (at the
place of the first), and the module names in `modparam` lines, alone or
in a "a|b" regular expression, become aor ("nathelper|registrar" becomes
"nathelper|aor").

adapt_for_test(text, workdir): the RPC sockets (ctl's binrpc, jsonrpcs'
FIFO and datagram socket) in workdir instead of /run/kamailio, inserted
before the routing section; applied to the stock and the aor run alike.
The listening socket and the number of workers are given on the command
line (-l, -n), so the routing logic is the file's own.
"""

import os
import re

LOAD_RE = re.compile(r'^(\s*)loadmodule\s+"(?:[^"]*/)?(usrloc|registrar)'
                     r'(?:\.so)?"\s*$', re.M)
MODPARAM_RE = re.compile(r'(modparam\s*\(\s*")([^"]+)(")')


def swap(text, aor_so):
    state = {"done": False}

    def load(m):
        if state["done"]:
            return m.group(1) + "# (usrloc and registrar: %s)" % "aor"
        state["done"] = True
        return '%sloadmodule "%s"' % (m.group(1), aor_so)
    text = LOAD_RE.sub(load, text)

    def mp(m):
        names = m.group(2).split("|")
        out = []
        for n in names:
            n = "aor" if n in ("usrloc", "registrar") else n
            if n not in out:
                out.append(n)
        return m.group(1) + "|".join(out) + m.group(3)
    return MODPARAM_RE.sub(mp, text)


def adapt_for_test(text, workdir):
    lines = [
        "# test-time RPC sockets (test/integration/debcfg.py)",
        'modparam("ctl", "binrpc", "unix:%s")' % os.path.join(workdir, "ctl"),
        'modparam("jsonrpcs", "fifo_name", "%s")'
        % os.path.join(workdir, "rpc.fifo"),
        'modparam("jsonrpcs", "dgram_socket", "%s")'
        % os.path.join(workdir, "rpc.sock"),
        "",
    ]
    marker = "####### Routing Logic ########"
    assert marker in text, "Debian's cfg has no routing section marker"
    return text.replace(marker, "\n".join(lines) + marker, 1)
