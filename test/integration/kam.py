"""Start and stop a Kamailio under test, and talk to it with kamcmd.

`Kamailio` writes a cfg into its own directory, runs `kamailio -DD -E -f cfg`
on 127.0.0.1 and a free UDP port with stderr captured to a file, waits for
readiness (kamcmd core.uptime, then a SIP OPTIONS ping) with a deadline, and
stops the process by pid (SIGTERM, then SIGKILL after a bound).

AOR_IMPL=aor (default) loads $AOR_SO (default build/aor.so) with
modparam("aor", ...); AOR_IMPL=stock loads usrloc.so + registrar.so and
routes each modparam to the stock module that owns it, so the harness and
the tests can be checked against the stock registrar. impl="none" loads
neither (a Kamailio that is not a registrar, such as a presence server).
"""

import os
import re
import shutil
import signal
import subprocess
import time

import sip

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KAMAILIO = os.environ.get("KAMAILIO", "/usr/sbin/kamailio")
KAMCMD = os.environ.get("KAMCMD", "/usr/sbin/kamcmd")
MPATH = os.environ.get("KAMAILIO_MPATH",
                       "/usr/lib/x86_64-linux-gnu/kamailio/modules/")
IMPL = os.environ.get("AOR_IMPL", "aor")
AOR_SO = os.environ.get("AOR_SO", os.path.join(ROOT, "build", "aor.so"))
ETC_CFG = os.path.join(ROOT, "etc", "kamailio.cfg")
ETC_DB = os.path.join(ROOT, "etc", "db")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

# AOR_VALGRIND=DIR (make check-memory): every Kamailio runs under valgrind
# memcheck, one log per process in DIR (valgrind.<pid>.log), its own log
# copied there at stop (kamailio.<pid>.log); Kamailio's q_malloc (-x qm
# -X qm, built with DBG_SR_MEMORY) checks the guard words around every
# pkg and shm block, which valgrind cannot see inside the pools. Starting
# and stopping take longer.
VALGRIND_DIR = os.environ.get("AOR_VALGRIND", "")
VALGRIND = ["valgrind", "--tool=memcheck", "--error-exitcode=99",
            "--trace-children=yes", "--child-silent-after-fork=no",
            "--num-callers=40", "--leak-check=full",
            "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite"]
if VALGRIND_DIR:
    START_TIMEOUT = 90.0
    STOP_TIMEOUT = 30.0

# Where each registrar modparam lives in the stock modules. Parameters that
# only the aor module has are left out in stock mode (its tests then fail).
STOCK_USRLOC = {"use_domain", "hash_size", "timer_interval", "nat_bflag",
                "timer_procs", "db_mode", "matching_mode", "preload",
                "handle_lost_tcp", "close_expired_tcp", "desc_time_order",
                "cseq_delay", "skip_remote_socket", "xavp_contact",
                "expires_type", "rm_expired_delay", "db_url", "db_load",
                "fetch_rows", "db_insert_null", "version_table",
                "server_id_filter", "db_timer_clean", "db_clean_tcp",
                "ka_mode", "ka_from", "ka_domain", "ka_method", "ka_filter",
                "ka_timeout", "ka_loglevel", "ka_logmsg"}
STOCK_REGISTRAR = {"default_expires", "min_expires", "min_expires_mode",
                   "max_expires", "max_contacts", "default_q",
                   "append_branches", "case_sensitive", "use_path",
                   "path_mode", "received_avp", "received_param",
                   "method_filtering", "retry_after", "realm_prefix",
                   "path_use_received", "path_check_local", "outbound_mode",
                   "regid_mode", "flow_timer", "xavp_cfg", "xavp_rcd",
                   "gruu_enabled", "reg_callid_avp", "sock_flag",
                   "use_expired_contacts", "contact_max_size",
                   "xavp_rcd_mask", "default_expires_range", "expires_range",
                   "lookup_filter_mode", "sock_hdr_name", "sock_mode"}
# The RFC-preferred modes most tests were written against (423 for a too
# brief expiry, the AoR's user compared case-sensitively as RFC 3261 19.1.4
# says, Retry-After on 5xx, NAT detected by RFC 3581), applied unless a test
# asks for the defaults (stock_defaults=True): the module's defaults are
# stock's, and test_dropin.py / test_defaults.py test them against stock.
RFC_MODES = {"min_expires_mode": 1, "case_sensitive": 1, "retry_after": 60,
             "nat_source": 1}

DEFAULT_REGISTER = """
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""

DEFAULT_ROUTE = """
    $var(r) = lookup("location");
    switch($var(r)) {
        case -1:
        case -3:
            sl_send_reply("404", "Not Found");
            exit;
        case -2:
            sl_send_reply("405", "Method Not Allowed");
            exit;
    }
    if(!t_relay()) {
        sl_reply_error();
    }
    exit;
"""

BASE_MODULES = ["ctl.so", "kex.so", "corex.so", "tm.so", "sl.so", "pv.so",
                "maxfwd.so", "textops.so", "siputils.so", "xlog.so"]


def cfg_value(v):
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    return '"%s"' % str(v).replace('"', '\\"')


class KamcmdError(Exception):
    def __init__(self, cmd, rc, out, err):
        super().__init__("kamcmd %s: rc=%d %s %s" % (cmd, rc, out, err))
        self.rc, self.out, self.err = rc, out, err
        m = re.search(r"error:\s*(\d+)", out + err)
        self.code = int(m.group(1)) if m else None


def parse_rpc(text):
    """Parse kamcmd's printout into Python values.

    kamcmd prints a struct as '{' ... '}' with 'key: value' lines, a nested
    struct as 'key: {' ... '}', and top-level scalars one per line. The
    result is a list of top-level items; a struct becomes a list of
    (key, value) pairs (order and repeated keys kept), a scalar a str.
    """
    stack = [[]]
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s == "{":
            new = []
            stack[-1].append(new)
            stack.append(new)
            continue
        if s in ("}", "},"):
            if len(stack) > 1:
                stack.pop()
            continue
        m = re.match(r"^([^:{}]+?):\s*(.*)$", s)
        if m and len(stack) > 1:
            key, val = m.group(1).strip(), m.group(2).strip()
            if val == "{":
                new = []
                stack[-1].append((key, new))
                stack.append(new)
            else:
                stack[-1].append((key, val))
        else:
            stack[-1].append(s)
    return stack[0]


def rpc_find(tree, key):
    """Every value stored under key (case-insensitive) anywhere in tree."""
    out = []
    key = key.lower()

    def walk(node):
        if isinstance(node, list):
            for item in node:
                if isinstance(item, tuple):
                    if item[0].lower() == key:
                        out.append(item[1])
                    walk(item[1])
                else:
                    walk(item)
    walk(tree)
    return out


def rpc_structs(tree):
    """Every struct (list of pairs) in tree, depth first."""
    out = []

    def walk(node):
        if isinstance(node, list):
            if node and all(isinstance(i, tuple) for i in node):
                out.append(node)
            for item in node:
                walk(item[1] if isinstance(item, tuple) else item)
    walk(tree)
    return out


class Kamailio:
    def __init__(self, workdir, modparams=None, register=None, route=None,
                 request_route=None, children=2, globals_=None,
                 modules=(), extra=None, cfg_text=None, defines=None,
                 impl=None, port=None, aor_so=None, mpath=None, args=(),
                 stock_defaults=False):
        """modparams: registrar parameters ({"max_contacts": 2}); they go to
        modparam("aor", ...) or, with AOR_IMPL=stock, to usrloc/registrar.
        register: the body of the REGISTER branch; route: the body for
        other requests; request_route: the whole request_route body.
        globals_: extra core settings (text); modules: extra loadmodule
        names; extra: extra cfg text (modparams of other modules, routes).
        cfg_text: use this cfg verbatim (with -D defines) instead.
        aor_so: what `loadmodule` names for the aor module (default
        $AOR_SO, an absolute path; "aor.so" loads it from the module path).
        mpath: the module path (default $KAMAILIO_MPATH); "" leaves mpath
        out, so Kamailio uses its compiled-in module directory.
        args: more kamailio options (["-m", "4"]), also settable as
        self.args before start().
        stock_defaults: leave out RFC_MODES (the module's own defaults).
        impl: "aor", "stock" or "none" (no registrar module, no registrar
        modparams: give request_route or register/route without
        save/lookup)."""
        self.dir = workdir
        os.makedirs(workdir, exist_ok=True)
        self.impl = impl or IMPL
        self.aor_so = aor_so or AOR_SO
        self.mpath = MPATH if mpath is None else mpath
        self.port = port or sip.free_udp_port()
        self.ctl = os.path.join(workdir, "ctl")
        self.ctl_uri = "unix:" + self.ctl
        self.cfg_path = os.path.join(workdir, "kamailio.cfg")
        self.log_path = os.path.join(workdir, "kamailio.log")
        self.modparams = {} if stock_defaults else dict(RFC_MODES)
        self.modparams.update(modparams or {})
        self.defines = dict(defines or {})
        self.proc = None
        self.args = list(args)  # more kamailio options (["-m", "4096"])
        if cfg_text is None:
            cfg_text = self.build_cfg(register, route, request_route,
                                      children, globals_ or "", modules,
                                      extra or "")
        with open(self.cfg_path, "w") as f:
            f.write(cfg_text)

    # -- configuration -----------------------------------------------------

    def registrar_modparams(self):
        lines = []
        if self.impl == "none":
            return ""
        if self.impl == "stock":
            params = self.modparams
            lines.append('modparam("usrloc", "db_mode", 0)')
            for k, v in params.items():
                if k in STOCK_USRLOC:
                    mod = "usrloc"
                elif k in STOCK_REGISTRAR:
                    mod = "registrar"
                else:
                    lines.append("# %s: not a stock parameter, left out" % k)
                    continue
                lines.append('modparam("%s", "%s", %s)' % (mod, k,
                                                           cfg_value(v)))
        else:
            for k, v in self.modparams.items():
                lines.append('modparam("aor", "%s", %s)' % (k, cfg_value(v)))
        return "\n".join(lines)

    def registrar_loadmodules(self):
        if self.impl == "none":
            return ""
        if self.impl == "stock":
            return 'loadmodule "usrloc.so"\nloadmodule "registrar.so"'
        return 'loadmodule "%s"' % self.aor_so

    def build_cfg(self, register, route, request_route, children, globals_,
                  modules, extra):
        if request_route is None:
            request_route = """
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
        } else if(has_totag() && uri!=myself) {
            forward();
        }
        exit;
    }
    if(is_method("CANCEL")) {
        if(t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if(has_totag() && uri!=myself) {
        t_relay();
        exit;
    }
    if(is_method("REGISTER")) {
%s
    }
%s
""" % (register if register is not None else DEFAULT_REGISTER,
                route if route is not None else DEFAULT_ROUTE)
        mods = "\n".join('loadmodule "%s"' % m
                         for m in BASE_MODULES + list(modules))
        return """#!KAMAILIO
# Generated by test/integration/kam.py (AOR_IMPL=%(impl)s)
debug=2
log_stderror=yes
log_prefix="{$mt $ci} "
children=%(children)d
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:%(port)d
alias=127.0.0.1:%(port)d
%(mpath)s
%(globals)s

%(mods)s
%(regmods)s

modparam("ctl", "binrpc", "%(ctl)s")
modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 10000)
%(regparams)s

%(extra)s

request_route {
%(request_route)s
}
""" % {"impl": self.impl, "children": children, "port": self.port,
       "mpath": 'mpath="%s"' % self.mpath if self.mpath else "",
       "globals": globals_, "mods": mods,
       "regmods": self.registrar_loadmodules(), "ctl": self.ctl_uri,
       "regparams": self.registrar_modparams(), "extra": extra,
       "request_route": request_route}

    # -- process -----------------------------------------------------------

    def start(self, timeout=START_TIMEOUT):
        cmd = [KAMAILIO, "-DD", "-E", "-f", self.cfg_path] + self.args
        for k, v in self.defines.items():
            cmd += ["-A", k if v is None else "%s=%s" % (k, v)]
        if VALGRIND_DIR:
            os.makedirs(VALGRIND_DIR, exist_ok=True)
            cmd = VALGRIND + ["--log-file=%s" % os.path.join(
                VALGRIND_DIR, "valgrind.%p.log")] + cmd + ["-x", "qm",
                                                           "-X", "qm"]
            timeout = max(timeout, START_TIMEOUT)
        self.cmdline = cmd
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        try:
            self._wait_ready(deadline)
        except Exception:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline):
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("kamailio exited with %s during start\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.ctl):
                # the socket exists before mod_init ends (a large snapshot
                # may take seconds to load): no answer yet is not an error
                try:
                    r = subprocess.run([KAMCMD, "-s", self.ctl_uri,
                                        "core.uptime"], capture_output=True,
                                       text=True, timeout=5)
                    if r.returncode == 0:
                        break
                except subprocess.TimeoutExpired:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("kamailio not ready (ctl) in time\n%s"
                                   % self.log_tail())
            time.sleep(0.05)
        with sip.Client(self.port) as c:
            while True:
                try:
                    if c.options(timeout=0.5).status == 200:
                        return
                except sip.Timeout:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("kamailio does not answer OPTIONS\n%s"
                                       % self.log_tail())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM the main process, SIGKILL its process group after a bound."""
        if self.proc is None:
            return
        if VALGRIND_DIR:
            timeout = max(timeout, STOP_TIMEOUT)
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The group id is our child's pid (start_new_session); this reaps
        # any of its worker processes left behind.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()
        if VALGRIND_DIR:
            shutil.copy(self.log_path, os.path.join(
                VALGRIND_DIR, "kamailio.%d.log" % self.proc.pid))
        self.proc = None

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- clients -----------------------------------------------------------

    def client(self, **kw):
        return sip.Client(self.port, **kw)

    @property
    def domain(self):
        return "127.0.0.1"

    def aor(self, user):
        return "sip:%s@127.0.0.1" % user

    def ruri(self, user):
        return "sip:%s@127.0.0.1:%d" % (user, self.port)

    # -- kamcmd ------------------------------------------------------------

    def kamcmd(self, cmd, *args, check=True, timeout=10):
        r = subprocess.run([KAMCMD, "-s", self.ctl_uri, cmd] +
                           [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
        failed = r.returncode != 0 or r.stdout.lstrip().startswith("error:")
        if check and failed:
            raise KamcmdError(cmd, r.returncode, r.stdout, r.stderr)
        return r.stdout

    def aor_key(self, user_or_aor):
        """The store key for an AoR as the RPC wants it."""
        s = user_or_aor
        if s.startswith("sip:"):
            s = s[4:]
        if not self.modparams.get("use_domain"):
            s = s.split("@", 1)[0]
        return s

    def show(self, aor):
        """Bindings of aor from `aor.show` (or stock ul.lookup) as a list of
        dicts; keys are lower-cased with '-' and '_' removed ('Call-ID' and
        'callid' both become 'callid'); 'contact' holds the URI. None when
        the RPC answers 404 (no such AoR)."""
        key = self.aor_key(aor)
        try:
            if self.impl == "stock":
                out = self.kamcmd("ul.lookup", "location", key)
            else:
                out = self.kamcmd("aor.show", key)
        except KamcmdError as e:
            text = (e.out + e.err).lower()
            if e.code == 404 or (self.impl == "stock" and (
                    "not found" in text or "no contacts" in text)):
                return None
            raise
        bindings = []
        for st in rpc_structs(parse_rpc(out)):
            d = {}
            for k, v in st:
                if isinstance(v, str):
                    d[re.sub(r"[-_ ]", "", k.lower())] = v
            if "address" in d and "contact" not in d:
                d["contact"] = d["address"]
            if d.get("contact", "").startswith(("sip:", "sips:", "<sip")):
                bindings.append(d)
        return bindings

    def count(self):
        """(aors, bindings) from `aor.count` (or stock statistics)."""
        if self.impl == "stock":
            out = self.kamcmd("stats.get_statistics", "usrloc:")
            users = int(re.search(r"location_users = (\d+)", out).group(1))
            conts = int(re.search(r"location_contacts = (\d+)", out).group(1))
            return users, conts
        out = self.kamcmd("aor.count")
        tree = parse_rpc(out)
        a, b = rpc_find(tree, "aors"), rpc_find(tree, "bindings")
        if a and b:
            return int(a[0]), int(b[0])
        nums = [int(x) for x in re.findall(r"-?\d+", out)]
        return nums[0], nums[1]

    def flush(self):
        """`aor.flush`: the number of removed bindings, as printed."""
        out = self.kamcmd("aor.flush")
        nums = re.findall(r"\d+", out)
        return int(nums[0]) if nums else None


def etc_kamailio(workdir):
    """A Kamailio (not started) running the project's own etc/kamailio.cfg,
    the config `make run` starts, with the defines `make run` gives it
    (LISTEN, AOR_SO, DBURL, CTL_SOCK, SNAPSHOT): 127.0.0.1 on a port free for UDP and
    TCP (it listens on both), a copy of etc/db in workdir. It always loads
    the aor module, whatever AOR_IMPL says."""
    db = os.path.join(workdir, "db")
    shutil.copytree(ETC_DB, db)
    with open(ETC_CFG) as f:
        text = f.read()
    port = sip.free_port(tcp_span=1)
    return Kamailio(workdir, cfg_text=text, port=port, impl="aor", defines={
        "LISTEN": "127.0.0.1:%d" % port,
        "AOR_SO": '"%s"' % AOR_SO,
        "DBURL": '"text://%s"' % db,
        "CTL_SOCK": '"unix:%s"' % os.path.join(workdir, "ctl"),
        "SNAPSHOT": '"%s"' % os.path.join(workdir, "aor-snapshot.xml"),
    })
