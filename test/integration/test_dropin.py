"""Drop-in, literally: Debian's own /etc/kamailio/kamailio.cfg, once with
stock usrloc + registrar and once with aor made by the two-line swap and
the module renames only, answers the same requests the same way and
routes them to the same places. Stock is the oracle, in the same run.

The cfg is read at test time (the `kamailio` package installs it), never
copied into the project. What the test changes in it, identically for both
runs, is only what a test on a shared machine needs: the listening socket
(`-l udp:127.0.0.1:PORT -l tcp:...`), two SIP workers (`-n 2`), logs to
stderr (`-E`), and the RPC sockets (ctl, jsonrpcs) in the test's own
directory instead of /run/kamailio (debcfg.py). The swap is dropin.swap().

Every define set that runs without a database server is driven: none,
WITH_ANTIFLOOD, WITH_DEBUG, WITH_BLOCK3XX + WITH_BLOCK401407, WITH_NAT,
WITH_NAT + WITH_NATSIPPING. Where aor differs on purpose, the test names
the RFC clause (doc/migration).
"""

import os
import re
import subprocess
import time

import pytest

import debcfg
import dropin
import kam
import oracle
import sip

DEBIAN_CFG = "/etc/kamailio/kamailio.cfg"

DEFINE_SETS = [
    pytest.param((), id="plain"),
    pytest.param(("WITH_ANTIFLOOD",), id="antiflood"),
    pytest.param(("WITH_DEBUG",), id="debug"),
    pytest.param(("WITH_BLOCK3XX", "WITH_BLOCK401407"), id="block3xx"),
    pytest.param(("WITH_NAT",), id="nat"),
    pytest.param(("WITH_NAT", "WITH_NATSIPPING"), id="natsipping"),
]

pytestmark = pytest.mark.skipif(not os.path.exists(DEBIAN_CFG),
                                reason="no %s (Debian's kamailio package)"
                                % DEBIAN_CFG)


def test_environment_for_the_cfg(tmp_path):
    """The adaptation for the test machine changes no routing logic: the
    adapted text differs from Debian's only by the inserted RPC paths."""
    text = open(DEBIAN_CFG).read()
    adapted = debcfg.adapt_for_test(text, str(tmp_path))
    removed = set(text.splitlines()) - set(adapted.splitlines())
    added = set(adapted.splitlines()) - set(text.splitlines())
    assert not removed
    assert all(a.startswith("modparam(") or a.startswith("#") or not a
               for a in added), added


class Node:
    """One Kamailio running Debian's cfg (stock, or aor by the swap)."""

    def __init__(self, workdir, impl, defines):
        os.makedirs(workdir, exist_ok=True)
        self.impl = impl
        # sipsak 0.9.8 cuts the port of its -s URI to four digits
        port = sip.free_port(below=10000)
        args = ["-l", "udp:127.0.0.1:%d" % port,
                "-l", "tcp:127.0.0.1:%d" % port, "-n", "2"]
        self.k = kam.Kamailio(workdir, cfg_text="", impl=impl, port=port,
                              defines={d: None for d in defines}, args=args,
                              mpath="")
        text = debcfg.adapt_for_test(open(DEBIAN_CFG).read(), workdir)
        if impl == "aor":
            text = dropin.swap(text, kam.AOR_SO)
        with open(self.k.cfg_path, "w") as f:
            f.write(text)
        self.port = port

    def start(self):
        self.k.start()
        return self

    def stop(self):
        self.k.stop()

    def aor(self, user):
        return "sip:%s@127.0.0.1:%d" % (user, self.port)


@pytest.fixture(scope="module", params=DEFINE_SETS)
def pair(request, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dropin-"))
    nodes = []

    def node(impl):
        nodes.append(Node(os.path.join(base, impl), impl, request.param))
        return nodes[-1].start()
    try:
        yield oracle.start(node)
    finally:
        for n in nodes:
            n.stop()


# -- what is observed ------------------------------------------------------

class Names:
    """Ports of the test's sockets mapped to role names, so that the
    observations of the two runs compare."""

    def __init__(self):
        self.ports = {}

    def add(self, port, name):
        self.ports[port] = name

    def norm(self, text):
        if text is None:
            return None

        def sub(m):
            p = int(m.group(1))
            return ":" + self.ports.get(p, "PORT")
        return re.sub(r":(\d{4,5})\b", sub, text)


def bucket(e):
    """A granted expiry, to the nearest 10 s (a second may pass)."""
    return None if e is None else int(round(e / 10.0)) * 10


def reg_obs(reply, names):
    """Status and the bindings a REGISTER reply lists."""
    cs = []
    for c in reply.contacts():
        cs.append((names.norm(c.uri), bucket(c.expires)))
    return (reply.status, sorted(cs, key=str))


def invite_obs(node, client, ruri, uases, names, method="INVITE"):
    """The final status of a request and which UASes received it."""
    for u in uases:
        u.clear()
    r = client.invite(ruri, method=method, timeout=8.0)
    got = []
    for u in uases:
        if u.wait_for(method, timeout=0.5 if got else 1.0) is not None:
            got.append(names.ports[u.port])
    return (r.status, sorted(got))


def uniq(prefix):
    """A user name unique to this comparison: made before the scenario,
    the same on both servers."""
    return prefix + sip.token(6)


# -- the requests -----------------------------------------------------------

@pytest.mark.parametrize("expires", [15, 600, 7200, 0])
def test_register_expiry(pair, expires):
    """Short (below min_expires 60: raised as stock does, min_expires_mode
    0), normal, long (max_expires 3600 of Debian's cfg) and zero expiry."""
    user = uniq("exp")

    def scenario(node):
        names = Names()
        with node.k.client() as c:
            names.add(c.port, "UA")
            contact = "sip:%s@127.0.0.1:%d" % (user, c.port)
            r1 = c.register(node.aor(user), [contact], expires=600
                            if expires == 0 else expires)
            obs = [reg_obs(r1, names)]
            if expires == 0:
                obs.append(reg_obs(c.register(node.aor(user), [contact],
                                              expires=0), names))
            obs.append(reg_obs(c.query(node.aor(user)), names))
            return obs
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def test_register_star_and_query(pair):
    """Two contacts, a query, then Contact: * with Expires: 0 (RFC 3261 10.3
    step 6) and a query."""
    user = uniq("star")

    def scenario(node):
        names = Names()
        with node.k.client() as c:
            names.add(c.port, "UA")
            a = "sip:%s@127.0.0.1:%d" % (user, c.port)
            b = "sip:%s-2@127.0.0.1:%d;transport=udp" % (user, c.port)
            obs = [reg_obs(c.register(node.aor(user), [a, b], expires=300),
                           names),
                   reg_obs(c.query(node.aor(user)), names),
                   reg_obs(c.register(node.aor(user), ["*"], expires=0),
                           names),
                   reg_obs(c.query(node.aor(user)), names)]
            return obs
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


@pytest.mark.parametrize("registered,called", [
    ("Erin", "erin"), ("erin", "ERIN"), ("ErIn", "ErIn")])
def test_user_case(pair, registered, called):
    """`Erin` registers; an INVITE to `erin` reaches her, as stock folds the
    case (case_sensitive 0, stock's default; RFC 3261 19.1.4 compares the
    user case-sensitively: case_sensitive 1 is one modparam away)."""
    tail = uniq("")

    def scenario(node):
        names = Names()
        with node.k.client() as c, sip.Uas() as u:
            names.add(c.port, "UA")
            names.add(u.port, "UAS")
            r = c.register(node.aor(registered + tail),
                           [u.contact(registered + tail)], expires=300)
            return [reg_obs(r, names), invite_obs(
                node, c, node.aor(called + tail), [u], names)]
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


@pytest.mark.parametrize("allow,params,method", [
    ("OPTIONS, MESSAGE", "", "INVITE"),
    ("OPTIONS, MESSAGE", "", "MESSAGE"),
    ("INVITE, ACK, BYE, CANCEL", "", "MESSAGE"),
    ("OPTIONS, MESSAGE", ';methods="INVITE,ACK,BYE"', "INVITE"),
    (None, ';methods="MESSAGE"', "INVITE"),
])
def test_method_filtering(pair, allow, params, method):
    """method_filtering 1 (Debian's cfg): the Contact's methods parameter,
    else the REGISTER's Allow header, says what reaches the binding; the
    rest gets 405 from the cfg's LOCATION route."""
    user = uniq("allow")

    def scenario(node):
        names = Names()
        with node.k.client() as c, sip.Uas() as u:
            names.add(c.port, "UA")
            names.add(u.port, "UAS")
            hdrs = [("Allow", allow)] if allow else []
            r = c.register(node.aor(user), ["<%s>%s" % (u.contact(user),
                                                        params)],
                           expires=300, headers=hdrs)
            return [reg_obs(r, names), invite_obs(
                node, c, node.aor(user), [u], names, method=method)]
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def test_source_differs_from_via(pair):
    """A client whose source port differs from its top Via and Contact: with
    no NAT handling in the cfg the INVITE goes to the Contact (nat_source 0,
    stock's default); with WITH_NAT, nathelper's fix_nated_register makes it
    go to the source, in both."""
    user = uniq("nat")

    def scenario(node):
        names = Names()
        with sip.Uas() as contact_uas:
            names.add(contact_uas.port, "CONTACT")
            c = node.k.client()
            names.add(c.port, "SOURCE")
            via = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (
                contact_uas.port, sip.new_branch())
            data, cid, cs = c.request(
                "REGISTER", "sip:127.0.0.1:%d" % node.port, node.aor(user),
                headers=[("Contact", "<%s>" % contact_uas.contact(user)),
                         ("Expires", "300")], override={"Via": via})
            r = c.transact(data, cid, cs)
            obs = [reg_obs(r, names)]
            src_uas = sip.Uas(sock=c.sock)
            try:
                with node.k.client() as caller:
                    obs.append(invite_obs(node, caller, node.aor(user),
                                          [contact_uas, src_uas], names))
            finally:
                src_uas.close()
            return obs
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def test_path(pair):
    """RFC 3327: a REGISTER through an edge proxy with Path (use_path 1,
    path_mode 0 in Debian's cfg: stored, not echoed); the INVITE goes to
    the edge with the Path as its Route."""
    user = uniq("path")

    def scenario(node):
        names = Names()
        with node.k.client() as c, sip.Uas() as edge, sip.Uas() as phone:
            names.add(c.port, "UA")
            names.add(edge.port, "EDGE")
            names.add(phone.port, "PHONE")
            path = "<sip:edge@127.0.0.1:%d;lr>" % edge.port
            r = c.register(node.aor(user), [phone.contact(user)],
                           expires=300, path=path)
            obs = [reg_obs(r, names), names.norm(r.get("path"))]
            obs.append(invite_obs(node, c, node.aor(user), [edge, phone],
                                  names))
            inv = edge.wait_for("INVITE", timeout=1.0)
            obs.append(names.norm(inv.get("route")) if inv else None)
            obs.append(names.norm(inv.first_line.split()[1]) if inv else None)
            return obs
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def test_q_forking(pair):
    """RFC 3261 16.6: an AoR with two contacts (q 0.5 and 1.0): the INVITE
    is forked to both (append_branches 1), the first 200 wins."""
    user = uniq("q")

    def scenario(node):
        names = Names()
        with node.k.client() as c, sip.Uas(code=486) as lo, \
                sip.Uas() as hi:
            names.add(c.port, "UA")
            names.add(lo.port, "LOW")
            names.add(hi.port, "HIGH")
            r = c.register(node.aor(user),
                           ["<%s>;q=0.5" % lo.contact(user),
                            "<%s>;q=1.0" % hi.contact(user)], expires=300)
            cs = sorted((names.norm(x.uri), x.q) for x in r.contacts())
            return [r.status, cs, invite_obs(node, c, node.aor(user),
                                             [lo, hi], names)]
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def test_invite_unregistered(pair):
    """An INVITE to a user with no binding: 404 from the cfg's LOCATION."""
    user = uniq("nobody")

    def scenario(node):
        with node.k.client() as c:
            r = c.invite(node.aor(user))
            return (r.status, r.reason)
    r = oracle.each(pair, scenario)
    assert r["aor"] == r["stock"]


def final_replies(c, cid, timeout=1.0):
    """Every final reply for cid within timeout."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        try:
            out.append(c.final_reply(cid, timeout=left).status)
        except sip.Timeout:
            return out


@pytest.mark.parametrize("case", ["star_with_expires", "bad_expires_param",
                                  "bad_q"])
def test_one_final_reply(pair, case):
    """`if(!save("location")) sl_reply_error();` (Debian's pattern): a
    REGISTER that save() refuses gets exactly one final reply, save()'s
    (RFC 3261 8.2.6: one final response per request; the FL_MSG_NOREPLY
    mark makes the cfg's sl_reply_error() send nothing). Stock's first
    reply is the oracle for the status."""
    contacts = {"star_with_expires": ["*"],
                "bad_expires_param": None,
                "bad_q": None}[case]
    user = uniq("one")

    def scenario(node):
        with node.k.client() as c:
            cs = contacts
            if case == "bad_expires_param":
                cs = ["<sip:%s@127.0.0.1:%d>;expires=abc" % (user, c.port)]
            elif case == "bad_q":
                cs = ["<sip:%s@127.0.0.1:%d>;q=7" % (user, c.port)]
            cid, _ = c.register(node.aor(user), cs, expires=600, wait=False)
            return final_replies(c, cid)
    r = oracle.each(pair, scenario)
    stock, aor = r["stock"], r["aor"]
    assert len(aor) == 1, aor
    if stock and stock[0] >= 400:
        # same class of error as stock's first reply
        assert aor[0] // 100 == stock[0] // 100, (stock, aor)


def test_sipsak_usrloc(pair):
    """sipsak -U (register with Expires 15, message to itself through the
    registrar, unregister): stock answers 200 with the expiry raised to
    min_expires, so must we (min_expires_mode 0)."""
    user = uniq("sipsak")

    def scenario(node):
        r = subprocess.run(
            ["sipsak", "-U", "-i", "-s", node.aor(user), "-H", "127.0.0.1",
             "-l", str(sip.free_udp_port())],
            capture_output=True, text=True, timeout=30)
        return r.returncode
    r = oracle.each(pair, scenario)
    stock, aor = r["stock"], r["aor"]
    assert stock == 0
    assert aor == stock


# -- save()'s return codes, with stock as the oracle ------------------------

SAVE_RC_REGISTER = """
        save("location", "0x02");
        $var(rc) = $rc;
        append_to_reply("X-Save-Rc: $var(rc)\\r\\n");
        sl_send_reply("200", "Saved");
        exit;
"""


def test_save_return_codes(kamailio_factory):
    """save() returns 1 inserted, 2 updated, 3 deleted, 4 query, -1 refused
    exactly when stock does (flag 0x02: no reply, so that the script
    answers with $rc): one request of each kind, and REGISTERs with several
    Contacts, where the last one that changed something counts."""
    servers = oracle.start(kamailio_factory, stock_defaults=True,
                           register=SAVE_RC_REGISTER)
    user = uniq("rc")

    def scenario(k, c):
        aor = k.aor(user)
        rcs = []

        def reg(contacts, expires=None, **kw):
            r = c.register(aor, contacts, expires=expires, **kw)
            rcs.append((r.status, r.get("x-save-rc")))
        a = "sip:%s@127.0.0.1:%d" % (user, c.port)
        b = "sip:%s-b@127.0.0.1:%d" % (user, c.port)
        n = "sip:%s-n@127.0.0.1:%d" % (user, c.port)
        reg([a], 300)                           # inserted
        reg([a], 300)                           # updated
        reg([a, b], 300)                        # updated a, inserted b
        reg([b, a], 300)                        # both updated
        reg(["<%s>;expires=0" % b, a], 300)     # deleted b, updated a
        reg([a, "<%s>;expires=0" % n], 300)     # a updated, n unknown
        reg(["<%s>;expires=0" % n], 300)        # nothing changed
        reg([], None)                           # query
        reg(["*"], 0)                           # wildcard
        reg(["<%s>;q=7" % a], 300)              # refused (bad q)
        return rcs
    seen = oracle.both(servers, scenario)
    assert seen["aor"] == seen["stock"]
    assert [rc for _, rc in seen["aor"]][:4] == ["1", "2", "1", "2"]
