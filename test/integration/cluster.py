"""Several Kamailio registrar nodes on loopback that replicate over DMQ.

`Cluster(basedir, n, impl)` makes n `Node`s (kam.Kamailio with a config of
its own): each on 127.0.0.1 with a UDP and a TCP port of its own, its own
work directory and ctl socket, dmq.so loaded, and the KDMQ branch at the
top of request_route. impl="aor": dmq before the aor module and
modparam("aor", "replicate", 1) (the replication of issue 16); impl="stock":
usrloc + registrar + dmq_usrloc with its start-up sync on. Node 0 learns
the others from node 1 (its notification_address), every other node from
node 0.

relay=dict(drop=, dup=, reorder=, seed=) puts a lossy `relay.Relay` in
front of every node: a node's DMQ server_address is its relay's address,
its server_socket the node's own socket, so the KDMQ requests between the
nodes pass the relays (their replies go straight back to the Via).

Reading the tables: `table(node)` is the node's location table in one
comparable form, {aor: sorted [(fields, expires_abs)]}, fields being
FIELDS; expires_abs is the absolute expiry (0: permanent) read from the
relative one of `aor.list` (paged) or stock's `ul.dump` (through jsonrpcs'
FIFO: kamcmd cannot read a reply over 128 KB), and compared with a
tolerance of EXPIRES_SLACK s. Stock's contacts that are "expired" (not
served by lookup, left for usrloc's timer) are left out. `converge(nodes,
timeout)` polls until every node's table is the same and returns how long
that took, or raises with the difference; `converged()` says the same
without raising (for stock's record).

`Pipeline` sends many REGISTERs over one UDP socket with a bounded window
(sip.py's message builder), for the bulk runs.
"""

import json
import os
import random
import select
import shutil
import signal
import socket
import time

import kam
import relay as relaymod
import sip

FIELDS = ("contact", "ruid", "q", "callid", "cseq", "path", "received",
          "instance", "reg_id", "flags")
EXPIRES_SLACK = 2

CLUSTER_REQUEST_ROUTE = """
    if(is_method("KDMQ")) {
        dmq_handle_message();
        exit;
    }
    if(!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if(is_method("OPTIONS") && uri==myself && $rU==$null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if(is_method("ACK")) {
        if(t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if(is_method("CANCEL")) {
        if(t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if(has_totag()) {
        t_relay();
        exit;
    }
    if(is_method("REGISTER")) {
        if($hdr(X-Save-Flags) == "0x04") {
            if(!save("location", "0x04")) {
                xlog("L_INFO", "save failed\\n");
            }
            exit;
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
    }
    if(is_method("MESSAGE") && $hdr(X-Op) == "unregister") {
        if(unregister("location", "$hdr(X-AoR)")) {
            sl_send_reply("200", "Unregistered");
        } else {
            sl_send_reply("404", "Unregister Failed");
        }
        exit;
    }
""" + kam.DEFAULT_ROUTE

# both: what the scenarios need of the registrar (Path kept, a short
# Expires allowed, lost TCP connections handled, a timer each second so
# that stock's expired contacts go soon)
BASE_PARAMS = {"use_path": 1, "min_expires": 1, "handle_lost_tcp": 1,
               "timer_interval": 1, "nat_source": 0, "min_expires_mode": 0,
               "case_sensitive": 0}
# the aor module's replication (repl.md); each can be overridden
AOR_REPL = {"replicate": 1}


class Node(kam.Kamailio):
    """One cluster node (kam.Kamailio) with its DMQ settings; index is its
    place in the cluster, dmq_port the port its DMQ address names (its
    own, or its relay's)."""

    def __init__(self, workdir, index, impl, port, dmq_port, peer_port,
                 modparams, repl, dmq_params=None, relay=None, extra="",
                 args=()):
        self.index = index
        self.dmq_port = dmq_port
        self.relay = relay
        self.fifo = os.path.join(workdir, "rpc.fifo")
        dmq = dict({"multi_notify": 0, "ping_interval": 10},
                   **(dmq_params or {}))
        lines = ['modparam("dmq", "server_address", "sip:127.0.0.1:%d")'
                 % dmq_port,
                 'modparam("dmq", "notification_address", '
                 '"sip:127.0.0.1:%d")' % peer_port]
        if dmq_port != port:
            lines.append('modparam("dmq", "server_socket", '
                         '"udp:127.0.0.1:%d")' % port)
        for k, v in dmq.items():
            lines.append('modparam("dmq", "%s", %s)' % (k, kam.cfg_value(v)))
        if impl == "stock":
            lines += ['loadmodule "dmq_usrloc.so"',
                      'modparam("dmq_usrloc", "enable", 1)',
                      'modparam("dmq_usrloc", "sync", 1)']
        else:
            for k, v in repl.items():
                if v is None:  # left out (replicate=None: no replication)
                    continue
                lines.append('modparam("aor", "%s", %s)'
                             % (k, kam.cfg_value(v)))
        lines += ['modparam("jsonrpcs", "transport", 2)',
                  'modparam("jsonrpcs", "fifo_name", "%s")' % self.fifo,
                  'modparam("jsonrpcs", "fifo_reply_dir", "%s/")' % workdir]
        os.makedirs(workdir, exist_ok=True)
        super().__init__(
            workdir, impl=impl, port=port, modparams=modparams,
            request_route=CLUSTER_REQUEST_ROUTE,
            modules=["dmq.so", "jsonrpcs.so"],
            globals_="disable_tcp=no\nlisten=tcp:127.0.0.1:%d\n"
                     "tcp_connection_lifetime=3600\n" % port,
            extra="\n".join(lines) + "\n" + extra, args=args)
        self.restarts = 0

    @property
    def dmq_uri(self):
        return "sip:127.0.0.1:%d" % self.dmq_port

    # -- process control ---------------------------------------------------

    def start(self, timeout=kam.START_TIMEOUT):
        if os.path.exists(self.log_path) and os.path.getsize(self.log_path):
            # the log of each earlier run is kept beside
            self.restarts += 1
            os.replace(self.log_path, "%s.%d" % (self.log_path,
                                                 self.restarts))
        return super().start(timeout)

    def kill(self):
        """SIGKILL the node's process group (a crash), then reap it."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.stop()

    def freeze(self):
        """SIGSTOP every process of the node."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.killpg(self.proc.pid, signal.SIGCONT)

    # -- DMQ ---------------------------------------------------------------

    def dmq_nodes(self):
        """{uri: status} of `dmq.list_nodes`."""
        out = self.kamcmd("dmq.list_nodes", check=False, timeout=5)
        got = {}
        for st in kam.rpc_structs(kam.parse_rpc(out)):
            d = dict((k, v) for k, v in st if isinstance(v, str))
            if "host" in d:
                uri = "sip:%s:%s" % (d["host"], d.get("port", "5060"))
                got[uri] = d.get("status", "")
        return got

    # -- RPC through jsonrpcs' FIFO (no size limit) ------------------------

    def jsonrpc(self, method, *params, timeout=20):
        name = "reply-%s" % sip.token(8)
        path = os.path.join(self.dir, name)
        os.mkfifo(path, 0o600)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                req = {"jsonrpc": "2.0", "method": method, "id": 1,
                       "reply_name": name}
                if params:
                    req["params"] = list(params)
                w = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                try:
                    os.write(w, (json.dumps(req) + "\n").encode())
                finally:
                    os.close(w)
                buf, seen = b"", False
                deadline = time.monotonic() + timeout
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("jsonrpc %s: no reply in %ss"
                                           % (method, timeout))
                    r, _, _ = select.select([fd], [], [], min(left, 0.2))
                    if not r:
                        continue
                    chunk = os.read(fd, 1 << 16)
                    if chunk:
                        buf += chunk
                        seen = True
                        continue
                    if seen:
                        try:
                            return json.loads(buf)
                        except ValueError:
                            pass
                    # no writer yet (or between writes): wait a moment
                    time.sleep(0.01)
            finally:
                os.close(fd)
        finally:
            os.unlink(path)

    # -- the table -----------------------------------------------------------

    def table(self):
        """{aor: sorted [(fields, expires_abs)]} (see the module doc)."""
        if self.impl == "stock":
            return self._stock_table()
        return self._aor_table()

    def _aor_table(self):
        now = time.time()
        out = {}
        cursor = "0"
        for _ in range(100000):
            text = self.kamcmd("aor.list", "location", 1000, cursor)
            tree = kam.parse_rpc(text)
            top = tree[0]
            nxt = dict((k, v) for k, v in top if isinstance(v, str))["next"]
            aors = [v for k, v in top if k == "aors"]
            for rec in (aors[0] if aors else []):
                d = dict(rec)
                key = d["aor"]
                for b in d.get("bindings", []):
                    bd = dict(b)
                    exp = int(bd["expires"])
                    out.setdefault(key, []).append((tuple(
                        _num(bd.get(f, "")) if f in ("q", "cseq", "reg_id",
                                                     "flags")
                        else bd.get(f, "") for f in FIELDS),
                        int(round(now + exp)) if exp else 0))
            if nxt == "0":
                break
            cursor = nxt
        return {k: sorted(v) for k, v in out.items()}

    def _stock_table(self):
        now = time.time()
        r = self.jsonrpc("ul.dump")
        if "result" not in r:
            raise RuntimeError("ul.dump: %r" % (r,))
        out = {}
        names = {"contact": "Address", "ruid": "Ruid", "q": "Q",
                 "callid": "Call-ID", "cseq": "CSeq", "path": "Path",
                 "received": "Received", "instance": "Instance",
                 "reg_id": "Reg-Id", "flags": "CFlags"}
        for dom in r["result"].get("Domains", []):
            for a in dom["Domain"].get("AoRs", []):
                info = a["Info"]
                key = info["AoR"]
                for c in info.get("Contacts", []):
                    c = c["Contact"]
                    e = c.get("Expires")
                    if e == "permanent":
                        exp = 0
                    elif isinstance(e, int):
                        exp = int(round(now + e))
                    else:
                        continue  # "expired", "deleted": lookup skips it
                    vals = []
                    for f in FIELDS:
                        v = c.get(names[f], "")
                        if f in ("q", "cseq", "reg_id", "flags"):
                            v = _num(v)
                        elif v == "[not set]" or v is None:
                            v = ""
                        vals.append(str(v) if not isinstance(v, (int, float))
                                    else v)
                    out.setdefault(key, []).append((tuple(vals), exp))
        return {k: sorted(v) for k, v in out.items() if v}

    def repl_stats(self):
        """`aor.repl`'s top-level fields as a dict of strings (aor only)."""
        tree = kam.parse_rpc(self.kamcmd("aor.repl"))
        return dict((k, v) for k, v in tree[0] if isinstance(v, str)) \
            if tree and isinstance(tree[0], list) else {}


def _num(v):
    if isinstance(v, (int, float)):
        return round(float(v), 3)
    try:
        return round(float(v), 3)
    except (TypeError, ValueError):
        return v


def same_tables(a, b, slack=EXPIRES_SLACK):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if len(x) != len(y):
            return False
        for (fx, ex), (fy, ey) in zip(x, y):
            if fx != fy:
                return False
            if (ex == 0) != (ey == 0) or abs(ex - ey) > slack:
                return False
    return True


def differing(tables):
    """For each table after the first, the AoRs in which it differs from
    the first."""
    ref = tables[0]
    out = []
    for t in tables[1:]:
        out.append(sorted(k for k in set(ref) | set(t)
                          if not same_tables({k: ref.get(k, [])},
                                             {k: t.get(k, [])})))
    return out


def table_diff(tables, limit=8):
    """The AoRs on which the tables differ from the first: a text."""
    ref = tables[0]
    lines = []
    for i, (t, keys) in enumerate(zip(tables[1:], differing(tables)), 1):
        for k in keys[:limit]:
            lines.append("node 0 vs %d, aor %s:\n  0: %r\n  %d: %r"
                         % (i, k, ref.get(k), i, t.get(k)))
        lines.append("node 0 vs %d: %d AoRs differ (%d vs %d AoRs)"
                     % (i, len(keys), len(ref), len(t)))
    return "\n".join(lines)


def converged(nodes, timeout, interval=0.1):
    """(True, seconds, the table, (0, AoRs)) once every node's table is the
    same, within timeout; else (False, the difference as text, the first
    node's table, (the number of AoRs in which the most different node
    differs from the first, the number of AoRs any node has))."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        tables = [n.table() for n in nodes]
        if all(same_tables(tables[0], t) for t in tables[1:]):
            return True, time.monotonic() - t0, tables[0], (0, len(tables[0]))
        if time.monotonic() >= deadline:
            return (False, table_diff(tables), tables[0],
                    (max(len(d) for d in differing(tables)),
                     len(set().union(*tables))))
        time.sleep(interval)


def converge(nodes, timeout):
    """Seconds until every node's table was the same (bounded by timeout);
    AssertionError with the difference when they are not by then."""
    ok, v, _, _ = converged(nodes, timeout)
    if not ok:
        raise AssertionError("tables differ after %.1f s:\n%s"
                             % (timeout, v))
    return v


class Cluster:
    """n nodes of one impl (see the module doc). modparams: registrar
    settings of every node (over BASE_PARAMS); repl: aor replication
    modparams (over AOR_REPL); relay: the relays' fault model or None."""

    def __init__(self, basedir, n=3, impl="aor", modparams=None, repl=None,
                 relay=None, dmq_params=None, extra="", args=()):
        self.impl = impl
        self.dir = basedir
        ports = []
        for _ in range(n):
            for _ in range(50):
                p = sip.free_port(tcp_span=1)
                if p not in ports:
                    ports.append(p)
                    break
        self.relays = []
        self.faults = None
        if relay is not None:
            kw = dict(relay)
            seed = kw.pop("seed", 0)
            self.faults = dict((k, kw.pop(k, 0.0))
                               for k in ("drop", "dup", "reorder"))
            # no faults until the nodes have found each other (start)
            for i, p in enumerate(ports):
                self.relays.append(relaymod.Relay(p, seed=seed * 100 + i,
                                                  **kw))
        dmq_ports = [r.port for r in self.relays] if self.relays else ports
        params = dict(BASE_PARAMS, **(modparams or {}))
        repl = dict(AOR_REPL, **(repl or {}))
        self.nodes = []
        for i, p in enumerate(ports):
            peer = dmq_ports[1] if i == 0 else dmq_ports[0]
            self.nodes.append(Node(
                os.path.join(basedir, "node%d" % i), i, impl, p,
                dmq_ports[i], peer, params, repl, dmq_params,
                relay=self.relays[i] if self.relays else None, extra=extra,
                args=args))

    def __getitem__(self, i):
        return self.nodes[i]

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    def start(self, mesh_timeout=30):
        """Start every node and wait until they see each other; then the
        relays' faults are turned on (a dropped notification would leave a
        node out of the cluster until dmq's next ping)."""
        for k in self.nodes:
            k.start()
        self.wait_mesh(timeout=mesh_timeout)
        if self.faults:
            for r in self.relays:
                r.set_faults(**self.faults)
        return self

    def wait_mesh(self, nodes=None, timeout=30):
        """Every node (of nodes) lists every node of the cluster as active in
        dmq.list_nodes; bounded."""
        nodes = nodes or self.nodes
        want = set(k.dmq_uri for k in self.nodes)

        def meshed():
            for k in nodes:
                got = k.dmq_nodes()
                if not want <= set(u for u, s in got.items()
                                   if s == "active"):
                    return False
            return True
        if not sip.wait_until(meshed, timeout, 0.2):
            raise AssertionError("DMQ nodes do not see each other in %ss: %s"
                                 % (timeout, [k.dmq_nodes() for k in nodes]))

    def stop(self):
        for k in self.nodes:
            try:
                if k.proc is not None and k.proc.poll() is None:
                    k.thaw()
            except (ProcessLookupError, OSError):
                pass
            k.stop()
        for r in self.relays:
            r.close()

    def alive(self):
        return [k for k in self.nodes if k.alive()]

    def tables(self):
        return [k.table() for k in self.nodes]

    def relay_counts(self):
        tot = {}
        for r in self.relays:
            for k, v in r.snapshot().items():
                tot[k] = tot.get(k, 0) + v
        return tot

    def log_tails(self, n=30):
        return "\n".join("--- node %d (%s)\n%s" % (k.index, k.log_path,
                                                    k.log_tail(n))
                         for k in self.nodes)


class EtcNode(Node):
    """A node running the project's etc/kamailio-cluster.cfg (which
    includes etc/kamailio.cfg, read here from the source tree) with the
    defines `make cluster` gives it."""

    def __init__(self, workdir, index, port, peer_ports):
        self.index = index
        self.dmq_port = port
        self.relay = None
        self.restarts = 0
        self.fifo = None
        os.makedirs(workdir, exist_ok=True)
        with open(ETC_CLUSTER_CFG) as f:
            text = f.read()
        text = text.replace('include_file "kamailio.cfg"',
                            'include_file "%s"' % kam.ETC_CFG)
        db = os.path.join(workdir, "db")
        if not os.path.isdir(db):
            shutil.copytree(kam.ETC_DB, db)
        defines = {
            "LISTEN": "127.0.0.1:%d" % port,
            "AOR_SO": '"%s"' % kam.AOR_SO,
            "DBURL": '"text://%s"' % db,
            "CTL_SOCK": '"unix:%s"' % os.path.join(workdir, "ctl"),
            "SNAPSHOT": '"%s"' % os.path.join(workdir, "aor-snapshot.xml"),
            "DMQ_ADDR": '"sip:127.0.0.1:%d"' % port,
            "DMQ_PEER1": '"sip:127.0.0.1:%d"' % peer_ports[0],
            "DMQ_PEER2": '"sip:127.0.0.1:%d"' % peer_ports[1],
        }
        kam.Kamailio.__init__(self, workdir, cfg_text=text, port=port,
                              impl="aor", defines=defines)


ETC_CLUSTER_CFG = os.path.join(kam.ROOT, "etc", "kamailio-cluster.cfg")


class EtcCluster(Cluster):
    """Three nodes of etc/kamailio-cluster.cfg (as `make cluster` starts
    them, on free ports)."""

    def __init__(self, basedir, n=3):
        self.impl = "aor"
        self.dir = basedir
        self.relays = []
        self.faults = None
        ports = []
        for _ in range(50 * n):
            p = sip.free_port(tcp_span=1)
            if p not in ports:
                ports.append(p)
            if len(ports) == n:
                break
        self.nodes = [EtcNode(os.path.join(basedir, "node%d" % i), i, p,
                              [q for q in ports if q != p])
                      for i, p in enumerate(ports)]


# -- many REGISTERs over one socket ------------------------------------------

class Pipeline:
    """REGISTERs to several servers over one UDP socket, at most `window`
    awaiting their final reply; a request without a final reply in
    `timeout` s is sent again (at most `tries` times), so a lost datagram
    costs a retransmission, not the run. run(ops) sends every op, each
    (server port, aor, contacts, expires, call_id, cseq, headers), and
    returns the final replies' status codes in op order (None: none
    came). Bounded: every op ends within tries * timeout."""

    def __init__(self, window=32, timeout=2.0, tries=3):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((sip.HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.window, self.timeout, self.tries = window, timeout, tries
        self.client = sip.Client(0, sock=self.sock)

    def close(self):
        self.sock.close()

    def build(self, port, aor, contacts, expires, call_id, cseq,
              headers=()):
        hdrs = [("Contact", sip.format_contact(c)) for c in contacts]
        if expires is not None:
            hdrs.append(("Expires", str(expires)))
        hdrs.extend(headers)
        self.client.server = (sip.HOST, port)
        data, cid, cs = self.client.request(
            "REGISTER", "sip:127.0.0.1:%d" % port, aor, call_id=call_id,
            cseq=cseq, headers=hdrs)
        return data

    def run(self, ops, on_reply=None, deadline=None):
        """ops: an iterable of op tuples; on_reply(i, status) after each."""
        ops = list(ops)
        status = [None] * len(ops)
        pending = {}   # (call_id, cseq) -> [i, data, port, sent_at, tries]
        nxt = 0
        done = 0
        self.sock.settimeout(0.05)
        while done < len(ops):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("pipeline: %d of %d ops done by the "
                                   "deadline" % (done, len(ops)))
            while nxt < len(ops) and len(pending) < self.window:
                port, aor, contacts, expires, cid, cseq, hdrs = ops[nxt]
                data = self.build(port, aor, contacts, expires, cid, cseq,
                                  hdrs)
                self.sock.sendto(data, (sip.HOST, port))
                pending[(cid, cseq)] = [nxt, data, port, time.monotonic(),
                                        1]
                nxt += 1
            try:
                data, _ = self.sock.recvfrom(65535)
                m = sip.Message(data)
                if m.is_reply and m.status >= 200:
                    key = (m.get("call-id"), m.cseq[0])
                    p = pending.pop(key, None)
                    if p is not None:
                        status[p[0]] = m.status
                        done += 1
                        if on_reply:
                            on_reply(p[0], m.status)
            except socket.timeout:
                pass
            now = time.monotonic()
            for key, p in list(pending.items()):
                if now - p[3] > self.timeout:
                    if p[4] >= self.tries:
                        pending.pop(key)
                        done += 1
                        if on_reply:
                            on_reply(p[0], None)
                        continue
                    self.sock.sendto(p[1], (sip.HOST, p[2]))
                    p[3], p[4] = now, p[4] + 1
        return status


def mixed_ops(ports, n, naors, prefix, seed=1, expires=(600, 3600)):
    """n REGISTER ops over naors AoRs spread over the servers' ports, in a
    repeatable order (random.Random(seed)): a new contact, a refresh (the
    same Call-ID, CSeq + 1, another expiry), an unregistration (Expires 0)
    of one contact, or `*` for all; each AoR's ops in order, one AoR's
    op never in flight with another of its own (the caller sends them in
    rounds: see rounds()). Yields (round, op)."""
    rng = random.Random(seed)
    state = {}   # aor -> {contact: [call_id, cseq]}
    seqno = {}
    ops = []
    for i in range(n):
        a = rng.randrange(naors)
        aor = "sip:%s%05d@127.0.0.1" % (prefix, a)
        port = rng.choice(ports)
        cts = state.setdefault(aor, {})
        seqno[aor] = seqno.get(aor, 0) + 1
        r = rng.random()
        if not cts or r < 0.4:
            c = "sip:%s%05d-%d@127.0.0.1:%d" % (prefix, a, rng.randrange(4),
                                                 5000 + a % 1000)
            cid, cs = cts.get(c, ["%s-%05d-%s@t" % (prefix, a, sip.token(6)),
                                  0])
            cs += 1
            cts[c] = [cid, cs]
            ops.append((port, aor, [c], rng.randint(*expires), cid, cs, ()))
        elif r < 0.75:
            c = rng.choice(sorted(cts))
            cts[c][1] += 1
            cid, cs = cts[c]
            ops.append((port, aor, [c], rng.randint(*expires), cid, cs, ()))
        elif r < 0.93:
            c = rng.choice(sorted(cts))
            cid, cs = cts.pop(c)
            ops.append((port, aor, [c], 0, cid, cs + 1, ()))
        else:
            cid = "%s-%05d-star-%s@t" % (prefix, a, sip.token(6))
            ops.append((port, aor, ["*"], 0, cid, 1, ()))
            cts.clear()
    return ops


def rounds(ops, key=lambda op: op[1]):
    """ops split into rounds in which no key (AoR) comes twice, order kept
    per key: each round may be sent at once, the next after it."""
    out = []
    last = {}
    for op in ops:
        r = last.get(key(op), -1) + 1
        last[key(op)] = r
        while len(out) <= r:
            out.append([])
        out[r].append(op)
    return out
