"""Two more consumers of the usrloc C API served by aor, from Debian's
packages, with stock usrloc+registrar as the oracle in the same run:

- cplc (kamailio-cpl-modules): a CPL script's <lookup
  source="registration"> reads the user's contacts through the API
  (lock_udomain, get_urecord, r->contacts: c, received, q, expires,
  cflags against the API's nat_flag) and <proxy/> sends the INVITE to
  them (the received address as the destination URI, the nat flag on the
  branch); a user with no live binding takes the <notfound> branch.
- snmpstats (kamailio-snmpstats-modules): with export_registrar it
  registers UL_CONTACT_INSERT and UL_CONTACT_EXPIRE callbacks and keeps
  kamailioSIPRegUserTable and kamailioSIPContactTable (KAMAILIO-SIP-
  SERVER-MIB) in its AgentX sub-agent process; read here with snmpwalk
  through a private snmpd (AgentX master on a unix socket in the test's
  directory, SNMP on 127.0.0.1 and a free UDP port, no system config).
"""

import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

import kam as kammod
import sip

SRC = os.environ.get("KAMAILIO_SRC",
                     os.path.join(kammod.ROOT, "build", "kamailio-5.6.3"))
CPL_DTD = os.path.join(SRC, "src", "modules", "cplc", "cpl-06.dtd")
SQLITE_SCHEMA = "/usr/share/kamailio/db_sqlite"
FLB_NATB = 6

# -- cplc ------------------------------------------------------------------

# RFC 3880 section 5.2 (lookup) and 6.1 (proxy), 6.3 (reject)
CPL_LOOKUP = """<?xml version="1.0" encoding="UTF-8"?>
<cpl>
  <incoming>
    <lookup source="registration">
      <success>
        <proxy/>
      </success>
      <notfound>
        <reject status="404" reason="CPL lookup notfound"/>
      </notfound>
    </lookup>
  </incoming>
</cpl>
"""

CPL_REGISTER = """
        force_rport();
        if(nat_uac_test("19")) {
            fix_nated_register();
            setbflag(%d);
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
""" % FLB_NATB

CPL_ROUTE = """
    if(is_method("INVITE")) {
        t_on_branch("CPL_BRANCH");
        cpl_run_script("incoming", "force_stateful");
        # back here: the callee has no CPL script (or it failed)
        sl_send_reply("500", "No CPL script ran");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
    exit;
"""

# each branch cplc's <proxy/> makes: its flags and destination URI
CPL_BRANCH_ROUTE = """
branch_route[CPL_BRANCH] {
    if(isbflagset(%d)) {
        append_hf("X-Cpl-Nat: yes\\r\\n");
    }
    append_hf("X-Cpl-Dst: $du\\r\\n");
}
""" % FLB_NATB


def cpl_db(path):
    con = sqlite3.connect(path)
    for f in ("standard-create.sql", "cpl-create.sql"):
        with open(os.path.join(SQLITE_SCHEMA, f)) as fh:
            con.executescript(fh.read())
    con.commit()
    con.close()
    return path


def cpl_kamailio(factory, impl, workdir, append_branches):
    db = cpl_db(os.path.join(workdir, "cpl-%s-%d.db" % (impl,
                                                      append_branches)))
    extra = """
loadmodule "db_sqlite.so"
loadmodule "nathelper.so"
loadmodule "cplc.so"
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("cplc", "db_url", "sqlite://%(db)s")
modparam("cplc", "cpl_dtd_file", "%(dtd)s")
modparam("cplc", "lookup_domain", "location")
modparam("cplc", "lookup_append_branches", %(append)d)
%(branch_route)s
""" % {"db": db, "dtd": CPL_DTD, "append": append_branches,
       "branch_route": CPL_BRANCH_ROUTE}
    return factory(impl=impl, extra=extra, register=CPL_REGISTER,
                   route=CPL_ROUTE, modparams={
                       "nat_bflag": FLB_NATB,
                       "received_avp": "$avp(RECEIVED)", "nat_source": 0,
                       "min_expires": 1, "min_expires_mode": 0,
                       "case_sensitive": 0})


def cpl_load(k, user, path):
    out = k.kamcmd("cpl.load", "sip:%s@127.0.0.1" % user, path)
    assert "CPL Enabled" in out, out


CPL_USERS = ("two", "nat", "mix", "none", "gone", "old")


def nated_register(k, sock, user, fake, params=""):
    """A REGISTER from sock whose Via and Contact name the port fake, as
    from behind a NAT: fix_nated_register stores sock's address as the
    received one, nat_bflag is set. The reply goes to the Uas thread that
    reads sock (it skips replies): wait for the binding in the store."""
    c = sip.Client(k.port, sock=sock)
    via = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (fake,
                                                        sip.new_branch())
    n = len(k.show(k.aor(user)) or [])
    data, _, _ = c.request(
        "REGISTER", "sip:127.0.0.1:%d" % k.port, k.aor(user),
        call_id=sip.token(16),
        headers=[("Contact", "<sip:%s@127.0.0.1:%d>%s" % (user, fake, params)),
                 ("Expires", "300")], override={"Via": via})
    c.send_raw(data)
    deadline = time.monotonic() + 3
    while len(k.show(k.aor(user)) or []) == n:
        assert time.monotonic() < deadline, "NATed REGISTER not saved"
        time.sleep(0.05)


def cpl_calls(k, workdir, base):
    """Loads the same CPL script for each user of CPL_USERS (names made
    from base) and registers their bindings at k. Returns the users, the
    Uases that stand for the contacts (label, Uas) and {port: label}."""
    script = os.path.join(workdir, "lookup.cpl")
    with open(script, "w") as f:
        f.write(CPL_LOOKUP)
    users = {n: base + n for n in CPL_USERS}
    for u in users.values():
        cpl_load(k, u, script)
    names = {str(k.port): "KAM"}
    uases = []
    reg = sip.Client(k.port)

    def uas(label):
        u = sip.Uas()
        names[str(u.port)] = label
        uases.append((label, u))
        return u

    # two plain contacts, q 1.0 and 0.5 (stock orders r->contacts by q)
    hi, lo = uas("hi"), uas("lo")
    r = reg.register(k.aor(users["two"]), [
        (hi.contact(users["two"]), ";q=1.0"),
        (lo.contact(users["two"]), ";q=0.5")], expires=300)
    assert r.status == 200, r
    # a NATed one: Via and Contact name a port nobody listens on, the
    # REGISTER comes from the Uas' socket (the NAT's public side)
    nat = uas("nat")
    fake = sip.free_udp_port()
    names[str(fake)] = "natfake"
    nated_register(k, nat.sock, users["nat"], fake)
    # both: the plain one first (q 1.0), the NATed one second (q 0.5)
    r = reg.register(k.aor(users["mix"]), [
        (hi.contact(users["mix"]), ";q=1.0")], expires=300)
    assert r.status == 200, r
    nated_register(k, nat.sock, users["mix"], fake, ";q=0.5")
    # registered, then removed
    r = reg.register(k.aor(users["gone"]), ["sip:%s@127.0.0.1:9" %
                                             users["gone"]], expires=300)
    assert r.status == 200, r
    r = reg.register(k.aor(users["gone"]), ["sip:%s@127.0.0.1:9" %
                                             users["gone"]], expires=0)
    assert r.status == 200, r
    # expired: cplc skips a contact whose expires is past (stock's timer
    # may not have removed it yet); ours is gone from the store
    r = reg.register(k.aor(users["old"]), ["sip:%s@127.0.0.1:9" %
                                            users["old"]], expires=1)
    assert r.status == 200, r
    reg.close()
    return users, uases, names


def cpl_observe(k, users, uases, names):
    """Calls each user through k: {user: the caller's final status and
    reason, the INVITEs each Uas got (label, Request-URI, the branch's
    destination URI, its nat flag), ports replaced by labels}."""
    def norm(s):
        s = re.sub(r"(127\.0\.0\.1):(\d+)",
                   lambda m: "%s:%s" % (m.group(1), names.get(m.group(2),
                                                              "?")), s or "")
        for n, u in users.items():
            s = s.replace(u, n.upper())
        return s

    out = {}
    caller = sip.Client(k.port)
    for n in CPL_USERS:
        for _, u in uases:
            u.clear()
        rep = caller.invite(k.ruri(users[n]), timeout=6.0)
        # the other branches' INVITEs may still be on their way to their
        # Uas threads: settle (no new one for 0.3 s, 2 s at most)
        deadline = time.monotonic() + 2
        count = -1
        while time.monotonic() < deadline:
            now = sum(len(u.received("INVITE")) for _, u in uases)
            if now == count:
                break
            count = now
            time.sleep(0.3)
        seen = []
        for label, u in uases:
            for inv in u.received("INVITE"):
                seen.append((label, norm(inv.ruri),
                             norm(inv.get("x-cpl-dst")),
                             inv.get("x-cpl-nat")))
        out[n] = {"status": rep.status, "reason": rep.reason,
                  "invites": sorted(seen)}
    caller.close()
    return out


@pytest.mark.parametrize("append_branches", [0, 1])
def test_cplc_lookup_proxies_to_the_registered_contacts_as_stock(
        kamailio_factory, user, tmp_path, append_branches):
    """cplc binds ul_bind_usrloc of aor (lookup_domain "location"): the
    CPL <lookup source="registration"> then <proxy/> sends the INVITE to
    the user's contacts as stock's: with lookup_append_branches 0 to the
    first of r->contacts only (the highest q), with 1 to all of them;
    a NATed contact at its received address with the nat flag set; a
    user with no binding, an unregistered or an expired one takes the
    <notfound> branch (404 from the script)."""
    base = user.lower()[:24]
    runs = {}
    for impl in ("stock", "aor"):
        k = cpl_kamailio(kamailio_factory, impl, str(tmp_path),
                         append_branches)
        runs[impl] = (k,) + cpl_calls(k, str(tmp_path), base + impl[0])
    time.sleep(1.5)  # "old" (Expires 1) is past in both
    res = {}
    try:
        for impl, (k, users, uases, names) in runs.items():
            res[impl] = cpl_observe(k, users, uases, names)
    finally:
        for _, (_, _, uases, _) in runs.items():
            for _, u in uases:
                u.close()
    for impl in ("stock", "aor"):
        r = res[impl]
        assert r["two"]["status"] == 200, (impl, r)
        labels = [i[0] for i in r["two"]["invites"]]
        assert labels == (["hi", "lo"] if append_branches else ["hi"]), \
            (impl, r["two"])
        assert r["nat"]["status"] == 200, (impl, r)
        # to the received address; the nat flag only on an appended branch
        # (cplc sets the first branch's with setbflag(0, nat_flag), a mask
        # where setbflag wants an index: not set, with stock as with aor)
        assert r["nat"]["invites"] == [
            ("nat", "sip:NAT@127.0.0.1:natfake",
             "sip:127.0.0.1:nat", None)], (impl, r["nat"])
        assert r["mix"]["status"] == 200, (impl, r)
        want = [("hi", "sip:MIX@127.0.0.1:hi", "<null>", None)]
        if append_branches:
            want.append(("nat", "sip:MIX@127.0.0.1:natfake",
                         "sip:127.0.0.1:nat", "yes"))
        assert r["mix"]["invites"] == want, (impl, r["mix"])
        for n in ("none", "gone", "old"):
            assert (r[n]["status"], r[n]["reason"], r[n]["invites"]) == \
                (404, "CPL lookup notfound", []), (impl, n, r[n])
    assert res["aor"] == res["stock"]


# -- snmpstats -------------------------------------------------------------

# KAMAILIO-SIP-SERVER-MIB (Debian installs it in /usr/share/snmp/mibs, but
# not the SNMPv2-SMI it imports: numeric OIDs)
KAMAILIO_REG = ".1.3.6.1.4.1.34352.3.1.2.1.5"
REG_USER_TABLE = KAMAILIO_REG + ".6"  # kamailioSIPRegUserTable
CONTACT_TABLE = KAMAILIO_REG + ".7"  # kamailioSIPContactTable
SNMP_TIMEOUT = 10.0


class Snmpd:
    """A private Net-SNMP master agent: SNMP on 127.0.0.1 and a free UDP
    port, AgentX on a unix socket in workdir, its config, persistent dir
    and log there too (-C: no system config is read). Stopped by pid."""

    def __init__(self, workdir):
        self.dir = workdir
        os.makedirs(os.path.join(workdir, "persist"), exist_ok=True)
        self.port = sip.free_udp_port()
        self.agentx = os.path.join(workdir, "agentx")
        self.conf = os.path.join(workdir, "snmpd.conf")
        self.log_path = os.path.join(workdir, "snmpd.log")
        with open(self.conf, "w") as f:
            f.write("master agentx\nagentXSocket unix:%s\n"
                    "agentXPerms 0600 0700\n"
                    "rocommunity public 127.0.0.1\n" % self.agentx)
        # what the sub-agent (snmpstats, in Kamailio) reads: SNMPCONFPATH
        # names this directory, snmpstats.conf in it the master's socket
        self.subagent_conf = os.path.join(workdir, "subagent")
        os.makedirs(self.subagent_conf, exist_ok=True)
        with open(os.path.join(self.subagent_conf, "snmpstats.conf"),
                  "w") as f:
            f.write("agentXSocket unix:%s\n" % self.agentx)
        self.env = dict(os.environ, MIBS="",
                        SNMP_PERSISTENT_DIR=os.path.join(workdir, "persist"),
                        SNMPCONFPATH=self.subagent_conf)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["snmpd", "-f", "-C", "-c", self.conf, "-Lf", self.log_path,
             "-m", "", "udp:127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=self.env,
            start_new_session=True)
        deadline = time.monotonic() + SNMP_TIMEOUT
        while True:
            assert self.proc.poll() is None, ("snmpd exited",
                                              self.log_tail())
            r = self.run("snmpget", ".1.3.6.1.2.1.1.3.0", check=False)
            if r.returncode == 0 and os.path.exists(self.agentx):
                return self
            assert time.monotonic() < deadline, ("snmpd not ready",
                                                 self.log_tail())
            time.sleep(0.1)

    def run(self, tool, oid, check=True):
        r = subprocess.run([tool, "-v2c", "-c", "public", "-On", "-m", "",
                            "-t", "1", "-r", "1",
                            "127.0.0.1:%d" % self.port, oid],
                           capture_output=True, text=True, env=self.env,
                           timeout=SNMP_TIMEOUT)
        if check:
            assert r.returncode == 0, (tool, oid, r.stdout, r.stderr)
        return r

    def get(self, oid):
        """The value of one object, or None (no such object, no answer)."""
        r = self.run("snmpget", oid, check=False)
        m = re.match(r"^\.[\d.]+ = (?:(\w[\w-]*): )?(.*)$", r.stdout.strip())
        if r.returncode != 0 or not m or m.group(1) is None:
            return None
        return m.group(2)[1:-1] if m.group(1) == "STRING" else m.group(2)

    def walk(self, oid):
        """{numeric OID below oid: value} (STRING values unquoted)."""
        out = {}
        for line in self.run("snmpwalk", oid).stdout.splitlines():
            m = re.match(r"^(\.[\d.]+) = (?:(\w[\w-]*): )?(.*)$", line)
            if not m or not m.group(1).startswith(oid + "."):
                continue
            v = m.group(3)
            if m.group(2) == "STRING" and v.startswith('"'):
                v = v[1:-1]
            out[m.group(1)[len(oid) + 1:]] = v
        return out

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no snmpd log)"


def reg_tables(snmpd):
    """kamailioSIPRegUserTable as {userIndex: uri} and
    kamailioSIPContactTable's DisplayName and URI columns as
    {(userIndex, contactIndex): {column: v}} (the other columns read the
    contact through a pointer: see test_snmpstats_contact_times_as_stock)."""
    users = {}
    for k, v in snmpd.walk(REG_USER_TABLE).items():
        col, idx = k.split(".", 2)[1:]  # 1.<col>.<userIndex>
        if col == "2":  # kamailioSIPUserUri
            users[int(idx)] = v
    contacts = {}
    for col in (2, 3):
        for k, v in snmpd.walk("%s.1.%d" % (CONTACT_TABLE, col)).items():
            ui, ci = k.split(".")  # <userIndex>.<contactIndex>
            contacts.setdefault((int(ui), int(ci)), {})[col] = v
    return users, contacts


def snmp_kamailio(factory, impl, snmpd, monkeypatch):
    extra = """
loadmodule "snmpstats.so"
modparam("snmpstats", "sipEntityType", "registrarServer")
modparam("snmpstats", "export_registrar", 1)
"""
    # the AgentX process reads snmpstats.conf from SNMPCONFPATH
    for k in ("MIBS", "SNMP_PERSISTENT_DIR", "SNMPCONFPATH"):
        monkeypatch.setenv(k, snmpd.env[k])
    k = factory(impl=impl, extra=extra, modparams={
        "min_expires": 1, "timer_interval": 1, "nat_source": 0,
        "min_expires_mode": 0, "case_sensitive": 0})
    # the sub-agent registers its tables with the master: its initial
    # row (DefaultUser) is there once it has
    deadline = time.monotonic() + SNMP_TIMEOUT
    while "DefaultUser" not in reg_tables(snmpd)[0].values():
        assert time.monotonic() < deadline, (
            "snmpstats' sub-agent not registered", snmpd.log_tail(),
            k.log_tail(30))
        time.sleep(0.2)
    return k


def wait_gone(k, user, timeout=5.0):
    deadline = time.monotonic() + timeout
    while k.show(k.aor(user)):
        assert time.monotonic() < deadline, (k.impl, user, "not expired")
        time.sleep(0.1)


SNMP_COLS = {2: "display", 3: "uri", 4: "last_updated", 5: "expiry",
             6: "preference"}


@pytest.fixture(scope="module")
def snmp_runs(tmp_path_factory):
    """One run per implementation: a private snmpd, Kamailio with
    snmpstats (export_registrar 1), three users registered (carol with
    Expires 2, bob with two contacts), the tables walked; then bob
    unregisters, carol expires, the tables walked again."""
    mp = pytest.MonkeyPatch()
    started, daemons = [], []
    out = {}
    base = "snmp" + sip.token(4).lower()
    try:
        for impl in ("stock", "aor"):
            d = str(tmp_path_factory.mktemp("snmpd-%s-" % impl))
            snmpd = Snmpd(d)
            daemons.append(snmpd)
            snmpd.start()

            def factory(**kw):
                k = kammod.Kamailio(str(tmp_path_factory.mktemp("kam-snmp-")),
                                    **kw)
                k.start()
                started.append(k)
                return k
            k = snmp_kamailio(factory, impl, snmpd, mp)
            names = {}
            regs = []
            u = {n: base + n for n in ("alice", "bob", "carol")}
            for n, contacts, exp in (("alice", 1, 300), ("bob", 2, 300),
                                     ("carol", 1, 2)):
                c = sip.Client(k.port)
                regs.append(c)
                uris = [("sip:%s@127.0.0.1:%d;line=%d" % (u[n], c.port, i),
                         None) for i in range(contacts)]
                names[str(c.port)] = n
                r = c.register(k.aor(u[n]), uris, expires=exp)
                assert r.status == 200, (impl, r)
            t_reg = time.time()
            first = reg_tables(snmpd)
            # bob unregisters (Expires 0), carol expires
            c = regs[1]
            r = c.register(k.aor(u["bob"]), [], expires=0,
                           override={"Contact": "*"})
            assert r.status == 200, (impl, r)
            assert not k.show(k.aor(u["bob"]))
            wait_gone(k, u["carol"])
            # stock's timer runs UL_CONTACT_EXPIRE up to timer_interval
            # after the contact's end (lookups hide it before): walk until
            # carol's row is gone, or as it is after a bound
            deadline = time.monotonic() + 4
            while True:
                second = reg_tables(snmpd)
                if u["carol"] not in second[0].values() or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # last, as it may not leave the sub-agent standing: alice's
            # (live) contact's LastUpdated, Expiry and Preference
            times = {col: snmpd.get("%s.1.%d.2.1" % (CONTACT_TABLE, col))
                     for col in (4, 5, 6)}
            for c in regs:
                c.close()
            out[impl] = {"first": first, "second": second, "users": u,
                         "names": names, "t_reg": t_reg, "times": times,
                         "alive": k.alive()}
    finally:
        for k in started:
            k.stop()
        for s in daemons:
            s.stop()
        mp.undo()
    return out


def norm_tables(run, tables, cols=(2, 3)):
    users, contacts = tables

    def norm(s):
        s = re.sub(r"127\.0\.0\.1:(\d+)",
                   lambda m: "127.0.0.1:" + run["names"].get(m.group(1), "?"),
                   s)
        for n, full in run["users"].items():
            s = s.replace(full, n.upper())
        return s
    return ({i: norm(v) for i, v in users.items()},
            {key: {SNMP_COLS[c]: norm(v) for c, v in row.items()
                   if c in cols}
             for key, row in contacts.items()})


def test_snmpstats_reg_user_table_as_stock(snmp_runs):
    """snmpstats binds ul_bind_usrloc of aor and registers UL_CONTACT_INSERT
    and UL_CONTACT_EXPIRE callbacks (its only use of the API): its
    kamailioSIPRegUserTable lists each registered AoR (by the
    callback's c->aor) and kamailioSIPContactTable each contact (c->c), the
    same rows at the same indexes as with stock. An expiry removes the
    user (UL_CONTACT_EXPIRE); an unregistration does not: snmpstats does
    not register UL_CONTACT_DELETE, with stock as with aor."""
    got = {}
    for impl, run in snmp_runs.items():
        got[impl] = (norm_tables(run, run["first"]),
                     norm_tables(run, run["second"]))
    users1, contacts1 = got["stock"][0]
    users2, contacts2 = got["stock"][1]
    # the oracle's own view: DefaultUser (snmpstats' placeholder row), the
    # three users in registration order, their contacts
    assert users1 == {1: "DefaultUser", 2: "ALICE", 3: "BOB", 4: "CAROL"}
    assert contacts1 == {
        (1, 1): {"display": "DefaultUser", "uri": "DefaultUser"},
        (2, 1): {"display": "sip:ALICE@127.0.0.1:alice;line=0",
                 "uri": "sip:ALICE@127.0.0.1:alice;line=0"},
        (3, 1): {"display": "sip:BOB@127.0.0.1:bob;line=0",
                 "uri": "sip:BOB@127.0.0.1:bob;line=0"},
        (3, 2): {"display": "sip:BOB@127.0.0.1:bob;line=1",
                 "uri": "sip:BOB@127.0.0.1:bob;line=1"},
        (4, 1): {"display": "sip:CAROL@127.0.0.1:carol;line=0",
                 "uri": "sip:CAROL@127.0.0.1:carol;line=0"}}
    assert users2 == {1: "DefaultUser", 2: "ALICE", 3: "BOB"}
    assert contacts2 == {key: v for key, v in contacts1.items()
                         if key[0] != 4}
    assert got["aor"] == got["stock"]


def date_and_time(v):
    """An SNMPv2-TC DateAndTime as snmpwalk prints it (Hex-STRING, 8
    octets, local time) -> seconds since the epoch, or None."""
    b = bytes(int(x, 16) for x in v.split())
    if len(b) != 8:
        return None
    try:
        return time.mktime((b[0] << 8 | b[1], b[2], b[3], b[4], b[5], b[6],
                            0, 0, -1))
    except (OverflowError, ValueError):
        return None


def test_snmpstats_contact_times_as_stock(snmp_runs):
    """kamailioSIPContactLastUpdated, Expiry and Preference are read, at
    SNMP request time and in snmpstats' AgentX process, through the
    ucontact_t pointer its UL_CONTACT_INSERT callback was given. Stock's
    ucontact_t is the contact itself, in shm, so a live contact shows its
    last_modified, expires and q. Ours is a slot of a ring in shm (see the
    admin guide, register_ulcb) that holds the contact's values of the
    time of its change until 4,096 later callbacks reuse it: the columns
    show what stock shows, and Kamailio keeps running."""
    def columns(run):
        """(LastUpdated within 30 s of the REGISTER, Expiry 300 s after
        it, Preference, Kamailio still running) of alice's contact."""
        t = run["times"]
        last = date_and_time(t[4] or "")
        exp = date_and_time(t[5] or "")
        return (last is not None and abs(last - run["t_reg"]) < 30,
                None not in (last, exp) and abs(exp - last - 300) <= 1,
                t[6], run["alive"])

    stock = columns(snmp_runs["stock"])
    # no q given: q is -1 (Q_UNSPECIFIED), shown as -1/100
    assert stock == (True, True, "-0.01", True), snmp_runs["stock"]["times"]
    aor = columns(snmp_runs["aor"])
    assert aor == stock, (aor, snmp_runs["aor"]["times"])
