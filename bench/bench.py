#!/usr/bin/env python3
"""Side-by-side benchmark: bare Kamailio, stock registrar+usrloc, and aor.

    make bench                         (N = 10,000 and 100,000)
    make bench BENCH_ARGS="--sizes 10000,100000,1000000"
    python3 bench/bench.py --help

Three configurations of the same Kamailio (Debian's 5.6.3), same workers
(4), same shared memory, same loopback UDP socket:
  bare   REGISTER -> stateless 200, INVITE -> stateless 302; stores nothing
  stock  registrar + usrloc (memory only, db_mode 0, default hash_size)
  aor    this module, default settings
each driven by the scenarios in bench/sipp/: register N unique AoRs,
refresh them (same Call-ID, next CSeq), INVITE each (lookup(), then a
stateless 302 and the ACK) in sequential and in random order, unregister.

Figures:
  callgrind  instructions per REGISTER and per INVITE+ACK (all processes,
             collection only inside receive_msg), for the qm and the TLSF
             allocators; deterministic, the comparator to trust. The rows
             "register_noalloc" and "invite_noalloc" leave out what the
             memory managers' own functions (qm_*, tlsf_*) executed: under
             qm that share depends on the pool's layout (a fresh pool with
             mem_join walks ~1,000 empty buckets per allocation).
  cpu        CPU us per request from /proc/<pid>/schedstat of every Kamailio
             process, per phase; median, min and max of --reps runs.
  shm        core.shmmem real_used before and after registering N, per
             binding; and what is left after unregistering all.
  walk       time to page through every AoR: aor.list by cursor for aor,
             ul.dump for stock (which fails on large tables: reported so).
Every SIPp run must end with 0 failed calls and 0 retransmissions, or its
figures are marked invalid. What is printed is also written to
<--out>/bench.md, with a PNG chart beside each table (bench/charts.py).
"""

import argparse
import glob
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import charts

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KAMAILIO = os.environ.get("KAMAILIO", "/usr/sbin/kamailio")
KAMCMD = os.environ.get("KAMCMD", "/usr/sbin/kamcmd")
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
# --pin: Kamailio on CPU 0, SIPp on CPU 1 (two CPUs at least)
PIN = False

AOR_SO = os.environ.get("AOR_SO", os.path.join(ROOT, "build", "aor.so"))
CONFIGS = ("bare", "stock", "aor")
PHASES = set()

CFG = """#!KAMAILIO
debug=1
log_stderror=yes
memdbg=5
memlog=5
children=%(children)d
listen=udp:127.0.0.1:%(port)d
disable_tcp=yes
maxbuffer=%(buf)d
auto_aliases=no
mpath="%(mpath)s"
loadmodule "sl.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "textops.so"
%(loads)s
modparam("ctl", "binrpc", "unix:%(ctl)s")
%(params)s
request_route {
%(pre)s
    if(is_method("ACK")) {
        exit;
    }
    if(is_method("REGISTER")) {
%(register)s
        exit;
    }
    if(is_method("INVITE")) {
%(invite)s
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}
"""

LOOKUP = """        if(lookup("location")) {
            sl_send_reply("302", "Moved Temporarily");
        } else {
            sl_send_reply("404", "Not Found");
        }"""

KDMQ = """    if(is_method("KDMQ")) {
        dmq_handle_message();
        exit;
    }"""

SETUPS = {
    "bare": {
        "loads": "",
        "params": "",
        "register": '        sl_send_reply("200", "OK");',
        "invite": '        sl_send_reply("302", "Moved Temporarily");',
    },
    "stock": {
        "loads": 'loadmodule "usrloc.so"\nloadmodule "registrar.so"',
        "params": 'modparam("usrloc", "db_mode", 0)\n'
                  'modparam("registrar", "min_expires", 0)',
        "register": '        save("location");',
        "invite": LOOKUP,
    },
    "aor": {
        "loads": 'loadmodule "%s"' % AOR_SO,
        "params": 'modparam("aor", "min_expires", 0)',
        "register": '        save("location");',
        "invite": LOOKUP,
    },
    # replicate 1 to two peers (run_callgrind starts them, not measured)
    "aor-repl": {
        "loads": 'loadmodule "tm.so"\nloadmodule "dmq.so"\n'
                 'loadmodule "%s"' % AOR_SO,
        "params": 'modparam("aor", "min_expires", 0)\n'
                  'modparam("aor", "replicate", 1)',
        "register": '        save("location");',
        "invite": LOOKUP,
        "pre": KDMQ,
    },
}


def dmq_params(ports, i):
    """The DMQ part of node i of a cluster on ports (server_id i + 1)."""
    return ('server_id=%d\n'
            'modparam("dmq", "server_address", "sip:127.0.0.1:%d")\n'
            'modparam("dmq", "notification_address", "sip:127.0.0.1:%d")\n'
            'modparam("dmq", "multi_notify", 0)'
            % (i + 1, ports[i], ports[1] if i == 0 else ports[0]))


def free_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Kam:
    """One Kamailio of one configuration, optionally under callgrind."""

    def __init__(self, work, setup, shm_mb, allocator, children=4,
                 callgrind=False, port=None, extra=""):
        self.dir = tempfile.mkdtemp(prefix=setup + "-", dir=work)
        self.port = port or free_port()
        self.ctl = os.path.join(self.dir, "ctl")
        st = dict(SETUPS[setup])
        st.setdefault("pre", "")
        st["params"] += "\n" + extra
        cfg = CFG % dict(st, children=children, port=self.port,
                         buf=4 << 20, mpath=MPATH, ctl=self.ctl)
        self.cfg = os.path.join(self.dir, "kamailio.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg)
        self.cmd = [KAMAILIO, "-DD", "-E", "-f", self.cfg, "-m", str(shm_mb),
                    "-M", "32", "-x", allocator]
        self.callgrind = callgrind
        if PIN and not callgrind:
            self.cmd = ["taskset", "-c", "0"] + self.cmd
        if callgrind:
            self.cmd = ["valgrind", "--tool=callgrind", "--trace-children=yes",
                        "--collect-atstart=no",
                        "--toggle-collect=receive_msg",
                        # the replication sender's work (aor-repl)
                        "--toggle-collect=repl_tick",
                        "--callgrind-out-file=%s/callgrind.out.%%p"
                        % self.dir] + self.cmd
        self.log = open(os.path.join(self.dir, "kamailio.log"), "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True)
        self.wait_ready(300 if callgrind else 60)

    def rpc(self, *args, timeout=60):
        r = subprocess.run([KAMCMD, "-s", "unix:" + self.ctl] +
                           [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def wait_ready(self, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kamailio exited: see %s" % self.dir)
            if os.path.exists(self.ctl):
                try:
                    if self.rpc("core.uptime", timeout=5)[0] == 0:
                        return
                except subprocess.TimeoutExpired:
                    pass
            time.sleep(0.2)
        raise RuntimeError("kamailio not ready: see %s" % self.dir)

    def pids(self):
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def callgrind_dump(self):
        """Dumps the counters of this instance's processes only (a bare
        callgrind_control -d would dump every callgrind on the machine)."""
        for p in self.pids():
            subprocess.run(["callgrind_control", "-d", str(p)],
                           capture_output=True, timeout=120)

    @staticmethod
    def proc_sum(pids, name, pick):
        """The sum over pids of pick(text of /proc/<pid>/<name>); a process
        gone meanwhile counts 0."""
        total = 0
        for p in pids:
            try:
                with open("/proc/%d/%s" % (p, name)) as f:
                    total += pick(f.read())
            except (OSError, IndexError, ValueError):
                pass
        return total

    def cpu_ns(self):
        return self.proc_sum(self.pids(), "schedstat",
                             lambda t: int(t.split()[0]))

    def minflt(self):
        """Minor page faults of every process: a worker's first touch of a
        shared memory page another process wrote (fork does not copy the
        page tables of a shared mapping) costs one, once per page."""
        return self.proc_sum(self.pids(), "stat",
                             lambda t: int(t.rsplit(")", 1)[1].split()[7]))

    def cpu_other_ns(self):
        """CPU of the processes that are not SIP workers (timers, the
        module's maintenance process, ctl, main): the share of cpu_ns()
        that does not come from handling requests."""
        if not hasattr(self, "_other"):
            _, out = self.rpc("core.psx")
            self._other = [int(p) for p, d in re.findall(
                r"PID: (\d+)\s+DSC: ([^\n]+)", out)
                if "receiver" not in d]
        return self.proc_sum(self._other, "schedstat",
                             lambda t: int(t.split()[0]))

    def shm_used(self):
        _, out = self.rpc("core.shmmem")
        m = re.search(r"real_used:\s*(\d+)", out)
        return int(m.group(1)) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def inf_file(work, users, order):
    path = os.path.join(work, "users-%s-%d.csv" % (order, len(users)))
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("SEQUENTIAL\n" if order == "seq" else "RANDOM\n")
            f.write("".join("%s;\n" % u for u in users))
    return path


def sipp(k, work, scenario, inf, n, rate, keys=()):
    """Runs n calls; returns (ok, seconds, note)."""
    stat = os.path.join(work, "sipp-stat-%d.csv" % os.getpid())
    cmd = (["taskset", "-c", "1"] if PIN else []) + [
           SIPP, "127.0.0.1:%d" % k.port, "-sf",
           os.path.join(HERE, "sipp", scenario), "-inf", inf,
           "-m", str(n), "-r", str(rate), "-l", str(max(rate // 10, 50)),
           "-i", "127.0.0.1", "-p", str(free_port()), "-buff_size",
           str(4 << 20), "-nostdin", "-bg", "-trace_stat", "-stf", stat,
           "-fd", "3600", "-timeout", "3600s", "-timeout_error",
           "-recv_timeout", "8000"]
    for name, value in keys:
        cmd += ["-key", name, str(value)]
    if scenario == "register.xml":
        cmd += ["-cid_str", "reg-%u@bench"]
    if os.path.exists(stat):
        os.unlink(stat)
    t0 = time.monotonic()
    # -bg forks; run in the foreground instead for a clean exit code
    cmd.remove("-bg")
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=work,
                       timeout=max(120, n // max(rate, 1) * 4 + 60))
    secs = time.monotonic() - t0
    failed = retrans = None
    if os.path.exists(stat):
        rows = open(stat).read().strip().splitlines()
        head = rows[0].split(";")
        last = rows[-1].split(";")
        col = dict(zip(head, last))
        failed = int(col.get("FailedCall(C)", "0") or 0)
        retrans = int(col.get("Retransmissions(C)", "0") or 0)
    ok = r.returncode == 0 and failed == 0 and retrans == 0
    return ok, secs, "exit %d failed %s retrans %s" % (r.returncode, failed,
                                                       retrans)


def phases(users):
    """(name, scenario, order, keys) of one run, in order."""
    return [
        ("register", "register.xml", "seq", (("regseq", 1), ("expires", 3600))),
        ("refresh", "register.xml", "seq", (("regseq", 2), ("expires", 3600))),
        ("invite_seq", "invite.xml", "seq", ()),
        ("invite_rand", "invite.xml", "rand", ()),
        ("unregister", "register.xml", "seq", (("regseq", 3), ("expires", 0))),
    ]


# ---------------------------------------------------------------- callgrind

def callgrind_dumps(d):
    """(part, path) of every callgrind dump in d (part 0: the final one)."""
    for f in glob.glob(os.path.join(d, "callgrind.out.*")):
        m = re.search(r"callgrind\.out\.\d+(?:\.(\d+))?$", f)
        if m:
            yield int(m.group(1) or 0), f


def callgrind_parts(d):
    """{part: instructions} summed over the processes' dumps in d."""
    parts = {}
    for part, f in callgrind_dumps(d):
        with open(f) as fh:
            for line in fh:
                if line.startswith("summary:") or line.startswith("totals:"):
                    parts[part] = parts.get(part, 0) + int(line.split()[1])
                    break
    return parts


# the memory managers' own functions (q_malloc.c, tlsf_malloc.c and
# tlsf.c of the core, as the symbol table names them): their share of a
# figure is the allocator's work, which under qm depends on the pool's
# layout more than on what the code asks of it
ALLOC_FN = re.compile(r"^(qm_|tlsf_|split_frag|block_|search_suitable_"
                      r"block|mapping_|insert_free_block|remove_free_block|"
                      r"adjust_request_size|shm_core_)")


def callgrind_alloc_parts(d):
    """{part: instructions in the allocators' functions (exclusive)}."""
    parts = {}
    for part, f in callgrind_dumps(d):
        out = subprocess.run(["callgrind_annotate", "--threshold=100", f],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*?:(\S+)", line)
            if m and ALLOC_FN.match(m.group(2)):
                parts[part] = parts.get(part, 0) + \
                    int(m.group(1).replace(",", ""))
    return parts


def run_callgrind(work, setup, allocator, n, shm_mb, rate=100):
    """Instructions per REGISTER and per INVITE+ACK under callgrind."""
    users = ["cg%06d" % i for i in range(n)]
    peers, port, extra = [], None, ""
    if setup == "aor-repl":
        ports = [free_port() for _ in range(3)]
        port, extra = ports[0], dmq_params(ports, 0)
        for i in (1, 2):
            peers.append(Kam(work, setup, shm_mb, allocator, port=ports[i],
                             extra=dmq_params(ports, i)))
    k = Kam(work, setup, shm_mb, allocator, callgrind=True, port=port,
            extra=extra)
    if peers:
        time.sleep(5)  # the DMQ nodes find each other
    try:
        ok1, _, note1 = sipp(k, work, "register.xml",
                             inf_file(work, users, "seq"), n, rate,
                             (("regseq", 1), ("expires", 3600)))
        k.callgrind_dump()
        ok2, _, note2 = sipp(k, work, "invite.xml",
                             inf_file(work, users, "seq"), n, rate)
        k.callgrind_dump()
    finally:
        k.stop()
        for p in peers:
            p.stop()
    parts = callgrind_parts(k.dir)
    reg = parts.get(1, 0) / n
    inv = parts.get(2, 0) / n
    alloc = callgrind_alloc_parts(k.dir)
    if os.environ.get("BENCH_KEEP"):
        keep = os.path.join(os.environ["BENCH_KEEP"], "%s-%s" % (setup,
                                                                 allocator))
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(k.dir, keep)
        print("callgrind files of %s/%s kept in %s" % (setup, allocator,
                                                        keep))
    shutil.rmtree(k.dir, ignore_errors=True)
    return {"register": reg, "invite": inv, "ok": ok1 and ok2,
            "register_noalloc": reg - alloc.get(1, 0) / n,
            "invite_noalloc": inv - alloc.get(2, 0) / n,
            "note": note1 + "; " + note2}


# --------------------------------------------------------------------- runs

def walk(k, setup, n):
    """Seconds to page through every AoR, or a failure note."""
    t0 = time.monotonic()
    if setup == "stock":
        rc, out = k.rpc("ul.dump", timeout=600)
        secs = time.monotonic() - t0
        if rc != 0 or "error" in out[:200].lower():
            return "fails (%s)" % out.strip().splitlines()[0][:60] \
                if out.strip() else "fails"
        return "%.2f s" % secs
    if setup != "aor":
        return "-"
    cursor, pages, seen = "0", 0, 0
    while True:
        rc, out = k.rpc("aor.list", "location", 1000, "s:" + cursor,
                        timeout=60)
        if rc != 0:
            return "fails (%s)" % out[:60]
        pages += 1
        seen += len(re.findall(r"^\s*aor: ", out, re.M))
        m = re.search(r"next:\s*(\S+)", out)
        cursor = m.group(1) if m else "0"
        if cursor == "0":
            break
    return "%.2f s (%d pages, %d AoRs)" % (time.monotonic() - t0, pages, seen)


def run_once(work, setup, n, rate, shm_mb, allocator):
    users = ["u%07d" % i for i in range(n)]
    k = Kam(work, setup, shm_mb, allocator)
    res = {"ok": True, "notes": []}
    try:
        shm0 = k.shm_used()
        for name, scen, order, keys in phases(users):
            if name != "register" and name not in PHASES:
                continue
            c0, o0 = k.cpu_ns(), k.cpu_other_ns()
            ok, secs, note = sipp(k, work, scen, inf_file(work, users, order),
                                  n, rate, keys)
            res[name] = (k.cpu_ns() - c0) / 1000.0 / n
            res[name + ":other"] = (k.cpu_other_ns() - o0) / 1000.0 / n
            res["ok"] &= ok
            if not ok:
                res["notes"].append("%s: %s" % (name, note))
            if name == "register":
                res["shm_per_binding"] = (k.shm_used() - shm0) / n
            if name == "invite_rand" or (name == "register" and
                                         "invite_rand" not in PHASES):
                res["walk"] = walk(k, setup, n)
        res["shm_left"] = k.shm_used() - shm0
    finally:
        k.stop()
        shutil.rmtree(k.dir, ignore_errors=True)
    return res


def run_at_size(work, n, m, rate, shm_mb, allocator, warm=0):
    """CPU us per request with the table already holding n AoRs (loaded
    from a snapshot at start): m REGISTERs of new AoRs, then m INVITEs to
    AoRs picked at random among the n. Measures the cost at a size, apart
    from the growth to it (aor only: stock cannot preload without a
    database). warm: random INVITEs sent first and not measured, so that
    the workers have touched the table as a long-running server's have
    (each worker's first touch of a shared page is a minor fault)."""
    sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
    from test_snapshot import make_snapshot
    users = ["u%07d" % i for i in range(n)]
    snap = os.path.join(work, "at-size-%d.xml" % n)
    if not os.path.exists(snap):
        make_snapshot(snap, users)
    setup = dict(SETUPS["aor"])
    setup["params"] += '\nmodparam("aor", "snapshot_file", "%s")\n' \
        'modparam("aor", "snapshot_interval", 0)' % snap
    SETUPS["aor-at-size"] = setup
    # the load renames nothing, but a stop writes the file: keep a copy
    keep = snap + ".orig"
    if not os.path.exists(keep):
        shutil.copyfile(snap, keep)
    shutil.copyfile(keep, snap)
    k = Kam(work, "aor-at-size", shm_mb, allocator)
    res = {"ok": True, "notes": []}
    try:
        if warm:
            ok, _, note = sipp(k, work, "invite.xml",
                               inf_file(work, users, "rand"), warm, rate)
            res["ok"] &= ok
            if not ok:
                res["notes"].append("warm-up: %s" % note)
        fresh = ["n%07d" % i for i in range(m)]
        for name, scen, inf, keys in (
                ("register", "register.xml", inf_file(work, fresh, "seq"),
                 (("regseq", 1), ("expires", 3600))),
                ("invite_rand", "invite.xml", inf_file(work, users, "rand"),
                 ())):
            c0, o0, f0 = k.cpu_ns(), k.cpu_other_ns(), k.minflt()
            ok, secs, note = sipp(k, work, scen, inf, m, rate, keys)
            res[name] = (k.cpu_ns() - c0) / 1000.0 / m
            res[name + ":other"] = (k.cpu_other_ns() - o0) / 1000.0 / m
            res[name + ":faults"] = (k.minflt() - f0) / m
            res["ok"] &= ok
            if not ok:
                res["notes"].append("%s: %s" % (name, note))
        _, out = k.rpc("aor.stats")
        m2 = re.search(r"aors:\s*(\d+)", out)
        res["aors"] = int(m2.group(1)) if m2 else None
    finally:
        k.stop()
        shutil.rmtree(k.dir, ignore_errors=True)
    return res


def run_expiry(work, n_exp, n_traffic, rate, shm_mb, window):
    """CPU us per REGISTER of steady refresh traffic in a window without
    expiry and in one while n_exp bindings, all expiring at the same
    second (loaded from a snapshot), are removed by the expiry timer; the
    longest slot lock hold (aor.stats max_hold_us)."""
    sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
    from test_snapshot import make_snapshot
    snap = os.path.join(work, "expiry-snap.xml")
    lead = 20 + window
    make_snapshot(snap, ["x%07d" % i for i in range(n_exp)],
                  expires_in=lead)
    t_exp = time.time() + lead
    setup = dict(SETUPS["aor"])
    setup["params"] += '\nmodparam("aor", "snapshot_file", "%s")\n' \
        'modparam("aor", "snapshot_interval", 0)' % snap
    SETUPS["aor-expiry"] = setup
    k = Kam(work, "aor-expiry", shm_mb, "qm")
    users = ["t%07d" % i for i in range(n_traffic)]
    inf = inf_file(work, users, "seq")
    res = {}
    try:
        ok, _, note = sipp(k, work, "register.xml", inf, n_traffic, rate,
                           (("regseq", 1), ("expires", 3600)))
        seq = 2
        for name, start in (("before", time.time()),
                            ("during", t_exp + 1)):
            while time.time() < start:
                time.sleep(0.2)
            c0, t0, calls = k.cpu_ns(), time.time(), 0
            while time.time() - t0 < window:
                ok2, _, note2 = sipp(k, work, "register.xml", inf, n_traffic,
                                     rate, (("regseq", seq),
                                            ("expires", 3600)))
                ok, note = ok and ok2, note + "; " + note2
                seq += 1
                calls += n_traffic
            res[name] = (k.cpu_ns() - c0) / 1000.0 / calls
        _, out = k.rpc("aor.stats")
        m = re.search(r"max_hold_us:\s*(\d+)", out)
        res["max_hold_us"] = int(m.group(1)) if m else None
        m = re.search(r"max_hold_cpu_us:\s*(\d+)", out)
        res["max_hold_cpu_us"] = int(m.group(1)) if m else None
        _, out = k.rpc("stats.get_statistics", "aor:")
        m = re.search(r"aor:expired_bindings = (\d+)", out)
        res["expired"] = int(m.group(1)) if m else None
        res["ok"] = ok
        res["note"] = note
    finally:
        k.stop()
    return res


def fmt_ratio(a, b, digits=2):
    return "%.*fx" % (digits, a / b) if a and b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000",
                    help="N values for the CPU runs (1000000 takes long)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rate", type=int, default=4000,
                    help="SIPp calls per second")
    ap.add_argument("--shm", type=int, default=1024, help="shm MB")
    ap.add_argument("--callgrind-n", type=int, default=2000)
    ap.add_argument("--callgrind-rate", type=int, default=100,
                    help="SIPp calls per second of the callgrind runs (the "
                    "batching of aor-repl depends on it)")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--allocators", default="qm,tlsf",
                    help="allocators of the callgrind runs")
    ap.add_argument("--cpu-allocator", default="qm",
                    help="allocator of the CPU and shm runs")
    ap.add_argument("--phases", default="register,refresh,invite_seq,"
                    "invite_rand,unregister",
                    help="phases of the CPU runs (register is always run)")
    ap.add_argument("--at-sizes", default="", metavar="N,N",
                    help="aor only: CPU per request with the table already "
                    "holding N AoRs (loaded from a snapshot), --reps runs")
    ap.add_argument("--at-calls", type=int, default=40000,
                    help="requests per phase of the --at-sizes runs")
    ap.add_argument("--pin", action="store_true",
                    help="CPU runs: Kamailio on CPU 0, SIPp on CPU 1 "
                    "(taskset), so that they do not take turns on a CPU")
    ap.add_argument("--at-warmup", type=int, default=0, metavar="M",
                    help="random INVITEs sent before the measured phases "
                    "of each --at-sizes run (not measured)")
    ap.add_argument("--expiry", type=int, default=0, metavar="N",
                    help="also measure N bindings expiring at once")
    ap.add_argument("--expiry-window", type=int, default=70,
                    help="seconds of traffic measured before and during")
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the tables (bench.md) and their PNG charts "
                    "go (default: build/bench)")
    args = ap.parse_args()
    report = charts.Output(args.out, "bench")
    global PIN
    PIN = args.pin
    configs = args.configs.split(",")
    PHASES.update(args.phases.split(","))
    work = tempfile.mkdtemp(prefix="aor-bench-")
    print("kamailio-aor bench: %s, %s" % (
        time.strftime("%Y-%m-%d"), subprocess.run(
            [KAMAILIO, "-v"], capture_output=True,
            text=True).stdout.splitlines()[0]))
    try:
        if not args.no_callgrind:
            print("\n## instructions per request (callgrind, N=%d)"
                  % args.callgrind_n)
            print("| alloc | request | bare | stock | aor | aor/bare | "
                  "aor/stock | stock/bare |")
            print("|---|---|---|---|---|---|---|---|")
            reqs = ("register", "invite", "register_noalloc",
                    "invite_noalloc")
            ratios, cgs = {}, {}
            for alloc in args.allocators.split(","):
                cg = cgs[alloc] = {s: run_callgrind(work, s, alloc,
                                                    args.callgrind_n,
                                                    args.shm,
                                                    args.callgrind_rate)
                                   for s in configs}
                for req in reqs:
                    v = {s: cg[s][req] for s in configs}
                    ratios["%s %s" % (alloc, req)] = v
                    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                        alloc, req,
                        *["%.1fk%s" % (v[s] / 1000,
                                       "" if cg[s]["ok"] else " (invalid)")
                          if s in v else "-" for s in CONFIGS],
                        # deterministic figures: a third decimal
                        fmt_ratio(v.get("aor"), v.get("bare"), 3),
                        fmt_ratio(v.get("aor"), v.get("stock"), 3),
                        fmt_ratio(v.get("stock"), v.get("bare"), 3)))
                    sys.stdout.flush()
                if "aor-repl" in cg:
                    print("\n| alloc | request | aor | aor-repl (2 peers) "
                          "| aor-repl/aor | aor-repl/bare |")
                    print("|---|---|---|---|---|---|")
                    for req in ("register", "invite"):
                        v = {s: cg[s][req] for s in cg}
                        print("| %s | %s | %s | %.1fk | %s | %s |" % (
                            alloc, req, "%.1fk" % (v["aor"] / 1000)
                            if "aor" in v else "-", v["aor-repl"] / 1000,
                            fmt_ratio(v["aor-repl"], v.get("aor"), 3),
                            fmt_ratio(v["aor-repl"], v.get("bare"), 3)))
            for alloc, cg in cgs.items():
                report.bar("callgrind-" + alloc, "instructions per request "
                           "(callgrind, %s, N=%d), thousands" % (
                               alloc, args.callgrind_n), "instructions (k)",
                           reqs, [(s + ("" if cg[s]["ok"] else " (invalid)"),
                                   [cg[s][r] / 1000 for r in reqs])
                                  for s in configs])
            report.bar("callgrind-ratios", "instructions per request, ratios "
                       "(callgrind, N=%d)" % args.callgrind_n, "ratio",
                       list(ratios), [
                           ("%s/%s" % (a, b), [v[a] / v[b] if v.get(a) and
                                               v.get(b) else None
                                               for v in ratios.values()])
                           for a, b in (("aor", "bare"), ("aor", "stock"),
                                        ("stock", "bare"))
                           if a in configs and b in configs])
        if not args.no_cpu:
            sizes = [int(x) for x in args.sizes.split(",")]
            shown = [ph for ph in ("register", "refresh", "invite_seq",
                                   "invite_rand", "unregister")
                     if ph == "register" or ph in PHASES]
            # {(config, phase or "shm"): [(median, min, max) per size]}
            over = {}
            for n in sizes:
                runs = {s: [run_once(work, s, n, args.rate, args.shm,
                                     args.cpu_allocator)
                            for _ in range(args.reps if n < 1000000 else 1)]
                        for s in configs}
                print("\n## N = %d: CPU us per request (median [min-max] of "
                      "%d), %s" % (n, len(runs[configs[0]]),
                                   args.cpu_allocator))
                print("| phase | bare | stock | aor | aor/bare | aor/stock |")
                print("|---|---|---|---|---|---|")
                for ph in shown:
                    med = {}
                    cells = []
                    for s in CONFIGS:
                        if s not in runs:
                            cells.append("-")
                            continue
                        xs = [r[ph] for r in runs[s]]
                        med[s] = statistics.median(xs)
                        over.setdefault((s, ph), []).append(
                            (med[s], min(xs), max(xs)))
                        cells.append("%.1f [%.1f-%.1f]" % (med[s], min(xs),
                                                            max(xs)))
                    print("| %s | %s | %s | %s | %s | %s |" % (
                        ph, *cells, fmt_ratio(med.get("aor"), med.get("bare")),
                        fmt_ratio(med.get("aor"), med.get("stock"))))
                for s in configs:
                    over.setdefault((s, "shm"), []).append(statistics.median(
                        r["shm_per_binding"] for r in runs[s]))
                print("| shm per binding (B) | %s |" % " | ".join(
                    "%.0f" % statistics.median(
                        r["shm_per_binding"] for r in runs[s])
                    if s in runs else "-" for s in CONFIGS) + " | | |")
                if "unregister" in PHASES:
                    print("| shm left after unregister (B) | %s |" %
                          " | ".join("%d" % runs[s][-1]["shm_left"]
                                     if s in runs else "-"
                                     for s in CONFIGS) + " | | |")
                print("| walk every AoR | %s |" % " | ".join(
                    runs[s][-1]["walk"] if s in runs else "-"
                    for s in CONFIGS) + " | | |")
                print("\nof which outside the SIP workers (timers, "
                      "maintenance, ctl), us per request (median): " +
                      "; ".join("%s %s" % (ph, ", ".join(
                          "%s %.2f" % (s, statistics.median(
                              r[ph + ":other"] for r in runs[s]))
                          for s in configs))
                          for ph in shown))
                for s in configs:
                    for r in runs[s]:
                        if not r["ok"]:
                            print("invalid run %s N=%d: %s" % (
                                s, n, "; ".join(r["notes"])))
                report.bar("cpu-%d" % n, "CPU us per request, N = %d (median "
                           "and range of %d), %s" % (n, len(runs[configs[0]]),
                                                     args.cpu_allocator), "us",
                           shown, [(s + ("" if all(r["ok"] for r in runs[s])
                                         else " (invalid run)"),
                                    [over[(s, ph)][-1] for ph in shown])
                                   for s in configs])
                sys.stdout.flush()
            if len(sizes) > 1:
                report.line("cpu-over-size", "CPU us per request over N "
                            "(median and range), %s" % args.cpu_allocator, "N",
                            "us", sizes, [("%s %s" % (s, ph), over[(s, ph)])
                                          for s in configs
                                          for ph in ("register", "invite_rand")
                                          if (s, ph) in over])
                report.line("shm-over-size", "shm per binding over N (core."
                            "shmmem), %s" % args.cpu_allocator, "N", "bytes",
                            sizes, [(s, over[(s, "shm")]) for s in configs
                                    if s != "bare"])
        if args.at_sizes:
            sizes = [int(x) for x in args.at_sizes.split(",")]
            # interleaved, so that the machine's drift hits every size alike
            runs = {n: [] for n in sizes}
            for _ in range(args.reps):
                for n in sizes:
                    runs[n].append(run_at_size(work, n, args.at_calls,
                                               args.rate, args.shm,
                                               args.cpu_allocator,
                                               args.at_warmup))
            print("\n## aor at a size: CPU us per request with N AoRs "
                  "already stored (%d requests per phase, median [min-max] "
                  "of %d, interleaved, after %d random INVITEs not "
                  "measured), %s" % (args.at_calls, args.reps,
                                     args.at_warmup, args.cpu_allocator))
            print("| phase | %s | ratio last/first | median of the "
                  "repetitions' own ratios |" % " | ".join(
                      "N = %d" % n for n in sizes))
            print("|---|%s---|---|" % ("---|" * len(sizes)))
            for ph in ("register", "invite_rand"):
                med = [statistics.median(r[ph] for r in runs[n])
                       for n in sizes]
                # each repetition ran the sizes back to back: its own
                # ratio shares the machine's state of those minutes
                paired = statistics.median(
                    b[ph] / a[ph] for a, b in zip(runs[sizes[0]],
                                                  runs[sizes[-1]]))
                print("| %s | %s | %s | %.2fx |" % (ph, " | ".join(
                    "%.1f [%.1f-%.1f]" % (md, min(r[ph] for r in runs[n]),
                                          max(r[ph] for r in runs[n]))
                    for md, n in zip(med, sizes)),
                    fmt_ratio(med[-1], med[0]), paired))
                print("| %s outside the workers | %s | | |" % (
                    ph, " | ".join("%.2f" % statistics.median(
                        r[ph + ":other"] for r in runs[n]) for n in sizes)))
                print("| %s minor page faults per request | %s | | |" % (
                    ph, " | ".join("%.3f" % statistics.median(
                        r[ph + ":faults"] for r in runs[n]) for n in sizes)))
            for n in sizes:
                for r in runs[n]:
                    if not r["ok"]:
                        print("invalid run N=%d: %s" % (n, "; ".join(
                            r["notes"])))
            report.line("at-size", "aor: CPU us per request with N AoRs "
                        "stored (median and range of %d), %s" % (
                            args.reps, args.cpu_allocator), "N (AoRs stored)",
                        "us", sizes, [(ph, [(statistics.median(xs), min(xs),
                                             max(xs))
                                            for xs in ([r[ph] for r in runs[n]]
                                                       for n in sizes)])
                                      for ph in ("register", "invite_rand")])
            sys.stdout.flush()
        if args.expiry:
            r = run_expiry(work, args.expiry, 20000, args.rate, args.shm,
                           args.expiry_window)
            print("\n## %d bindings expiring at once (aor, qm)" % args.expiry)
            print("| CPU us per REGISTER before | during expiry | ratio | "
                  "longest slot lock hold (wall) | its CPU time | expired |")
            print("|---|---|---|---|---|---|")
            print("| %.1f | %.1f | %.2fx | %s us | %s us | %s |%s" % (
                r["before"], r["during"], r["during"] / r["before"],
                r["max_hold_us"], r["max_hold_cpu_us"], r["expired"],
                "" if r["ok"] else " (invalid: %s)" % r["note"]))
            report.bar("expiry", "CPU us per REGISTER while %d bindings "
                       "expire at once (aor, qm)" % args.expiry, "us",
                       ["before", "during expiry"],
                       [("aor" + ("" if r["ok"] else " (invalid)"),
                         [r["before"], r["during"]])])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
