"""Debian's /etc/kamailio/kamailio.cfg under test (the swap itself is
dropin.swap).

adapt_for_test(text, workdir): the RPC sockets (ctl's binrpc, jsonrpcs'
FIFO and datagram socket) in workdir instead of /run/kamailio, inserted
before the routing section; applied to the stock and the aor run alike.
The listening socket and the number of workers are given on the command
line (-l, -n), so the routing logic is the file's own.
"""

import os


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
