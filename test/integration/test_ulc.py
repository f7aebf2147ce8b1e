"""The stock registrar's contact profiles: reg_fetch_contacts(table, uri,
profile), $ulc(profile=>attr)[i], reg_free_contacts(profile), and
event_route[usrloc:contact-expired] with $ulc(exp=>attr).

Stock registrar+usrloc is the oracle: one Kamailio of each runs the same
script, gets the same REGISTERs, and the values its $ulc gives (put into
reply headers by append_to_reply, or into an htable by the expired route)
are compared attribute by attribute. Where the two legitimately differ the
comparison says why: the ruid (each implementation's own format), the
times (expires, modified: absolute, compared within a second or two and
against the clock), the socket (each instance has its own port) and
aorhash (stock's regpv.c never sets it and gives 0; ours is usrloc's hash
of the AoR, core_hash)."""

import time

import pytest

import oracle
import sip
from test_kemi import KemiKamailio

ATTRS = ["aor", "domain", "aorhash", "addr", "path", "received", "expires",
         "callid", "q", "cseq", "flags", "cflags", "user_agent", "socket",
         "modified", "methods", "count", "ruid", "regid", "instance",
         "conid", "server_id"]
# index suffix in the cfg -> in the header name
INDEXES = [("", "n"), ("[0]", "0"), ("[1]", "1"), ("[2]", "2"),
           ("[3]", "3"), ("[-1]", "m1"), ("[$var(i)]", "v")]


def appends(profile):
    out = []
    for a in ATTRS:
        for idx, tag in INDEXES:
            pv = ("$(ulc(%s=>%s)%s)" % (profile, a, idx) if idx
                  else "$ulc(%s=>%s)" % (profile, a))
            out.append('append_to_reply("X-U-%s-%s: %s\\r\\n");'
                       % (a, tag, pv))
    return "\n        ".join(out)


ROUTE = """
    if(is_method("MESSAGE")) {
        $var(rc) = "none";
        $var(i) = 1;
        if($hdr(X-Op) == "fetch") {
            reg_fetch_contacts("location", "$hdr(X-Uri)", "p");
            $var(rc) = $rc;
        } else if($hdr(X-Op) == "free") {
            reg_free_contacts("p");
            $var(rc) = $rc;
        }
        append_to_reply("X-Rc: $var(rc)\\r\\n");
        append_to_reply("X-Other: $ulc(never=>addr)\\r\\n");
        %s
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not Here");
    exit;
""" % appends("p")

REGISTER = """
        if($hdr(X-Nat) == "yes") {
            fix_nated_register();
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""


def expired_route():
    lines = ['$var(a) = $ulc(exp=>aor);']
    for a in ATTRS:
        lines.append('$var(k) = $var(a) + "::%s"; '
                     '$sht(ev=>$var(k)) = $_s($ulc(exp=>%s));' % (a, a))
    lines.append('$var(k) = $var(a) + "::ul_runs"; '
                 '$var(x) = $sht(ev=>$var(k)); '
                 '$sht(ev=>$var(k)) = $var(x) + 1;')
    return "\n    ".join(lines)


EXTRA = """
modparam("htable", "htable", "ev=>size=6;")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
event_route[usrloc:contact-expired] {
    %s
}
event_route[aor:contact-expired] {
    $var(k) = $xavp(aor=>aor) + "::aor_runs";
    $var(x) = $sht(ev=>$var(k));
    $sht(ev=>$var(k)) = $var(x) + 1;
}
""" % expired_route()

PARAMS = {"min_expires": 1, "timer_interval": 1, "min_expires_mode": 0,
          "case_sensitive": 0, "nat_source": 0, "use_path": 1,
          "path_mode": 0, "received_avp": "$avp(RECEIVED)"}


def start(factory, **kw):
    """stock and aor: the same script on each."""
    return oracle.start(factory, children=1, modules=["htable", "nathelper"],
                        modparams=PARAMS, register=REGISTER, route=ROUTE,
                        extra=EXTRA, **kw)


@pytest.fixture(scope="module")
def pair(module_kamailio):
    return start(module_kamailio)


def core_hash(s):
    """Kamailio's core_hash(s, 0, 0) (core/hashes.h), usrloc's aorhash."""
    b = s.encode()
    h = 0
    p = 0
    m = 0xffffffff
    while p <= len(b) - 4:
        v = (b[p] << 24) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3]
        h = (h + (v ^ (v >> 3))) & m
        p += 4
    v = 0
    for c in b[p:]:
        v = ((v << 8) + c) & m
    h = (h + (v ^ (v >> 3))) & m
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & m


def message(k, op, user=None, uri=None):
    c = k.client()
    try:
        hdrs = [("X-Op", op)]
        if uri or user:
            hdrs.append(("X-Uri", uri or k.ruri(user)))
        data, cid, cs = c.request("MESSAGE", "sip:ulc@127.0.0.1:%d" % k.port,
                                  "sip:ulc@127.0.0.1", call_id=sip.token(16),
                                  headers=hdrs)
        r = c.transact(data, cid, cs)
    finally:
        c.close()
    assert r.status == 200, r
    vals = {"rc": r.get("x-rc"), "other": r.get("x-other")}
    for a in ATTRS:
        for _, tag in INDEXES:
            vals[(a, tag)] = r.get("x-u-%s-%s" % (a, tag))
    return vals


def messages(pair, op, user=None, uri=None):
    """message() to stock, then to aor: (stock's values, aor's)."""
    r = oracle.each(pair, lambda k: message(k, op, user, uri))
    return r["stock"], r["aor"]


# one client port for both servers: the NAT source (received) is the same
CLIENT_PORT = sip.free_udp_port()


def register_set(k, user, expires=60):
    """Three bindings over two REGISTERs: q and no q, Path, instance and
    reg-id, a methods parameter, the NAT source (fix_nated_register)."""
    c = k.client(port=CLIENT_PORT)
    try:
        aor = k.aor(user)
        r = c.register(aor, [("sip:%s@127.0.0.1:5071" % user, {"q": "0.5"}),
                             ("sip:%s@127.0.0.1:5072" % user, {})],
                       expires=expires, path="<sip:edge.example;lr>",
                       call_id="ulc-a-" + user, cseq=7)
        assert r.status == 200, r
        r = c.register(aor, [("sip:%s@127.0.0.1:5073;transport=udp" % user,
                              {"q": "0.9", "methods": '"INVITE,MESSAGE"',
                               "+sip.instance":
                                   '"<urn:uuid:00000000-0000-0000-0000-'
                                   '000000000001>"',
                               "reg-id": "1"})],
                       expires=expires, call_id="ulc-b-" + user, cseq=9,
                       headers=[("X-Nat", "yes")])
        assert r.status == 200, r
    finally:
        c.close()


def same_or_why(aor, got, want, attr, k_s, k_a, t0, t1):
    """Asserts that aor's value got equals stock's want, but where they
    legitimately differ."""
    if attr == "aorhash" and want != "<null>":
        # stock's regpv.c never fills aorhash: 0 for every AoR
        assert want == "0", want
        assert got == str(core_hash(aor)), (got, aor)
    elif attr == "ruid" and want != "<null>":
        # each implementation's own format
        assert got and got != "<null>", (got, want)
    elif attr in ("expires", "modified") and want != "<null>":
        # absolute times of two servers a moment apart
        assert abs(int(got) - int(want)) <= 2, (attr, got, want)
        if attr == "modified":
            assert t0 - 1 <= int(got) <= t1 + 1, (got, t0, t1)
    elif attr == "socket" and want != "<null>":
        assert got == "udp:127.0.0.1:%d" % k_a.port, got
        assert want == "udp:127.0.0.1:%d" % k_s.port, want
    else:
        assert got == want, (attr, got, want)


def compare(vs, va, pair, t0, t1):
    aor = va[("aor", "0")]
    assert va["rc"] == vs["rc"]
    assert va["other"] == vs["other"] == "<null>"
    for a in ATTRS:
        for _, tag in INDEXES:
            same_or_why(aor, va[(a, tag)], vs[(a, tag)], a, pair["stock"],
                        pair["aor"], t0, t1)


def test_fetch_gives_every_attribute_as_stock(pair, user):
    """Every $ulc attribute at every index, bindings in stock's order
    (highest q first, equal q in the order they were added)."""
    t0 = int(time.time())
    oracle.each(pair, lambda k: register_set(k, user))
    t1 = int(time.time())
    vs, va = messages(pair, "fetch", user)
    assert vs["rc"] == "1"
    assert vs[("count", "n")] == "3"
    assert vs[("addr", "3")] == "<null>"
    compare(vs, va, pair, t0, t1)
    # the values themselves, beyond equality with stock
    assert va[("addr", "0")].endswith(":5073;transport=udp")
    assert va[("q", "0")] == "900" and va[("q", "1")] == "500"
    assert va[("received", "0")].startswith("sip:127.0.0.1:")
    assert va[("path", "1")] == "<sip:edge.example;lr>"
    assert va[("instance", "0")].startswith("<urn:uuid:")
    assert va[("regid", "0")] == "1"
    assert va[("user_agent", "0")] == "aor-integration-test"
    assert va[("domain", "n")] == "location"
    assert va[("conid", "0")] == "<null>"  # UDP: no connection
    exp = int(va[("expires", "0")])
    assert t0 + 59 <= exp <= t1 + 61, (exp, t0, t1)
    assert len({va[("ruid", t)] for t in ("0", "1", "2")}) == 3


def test_unknown_aor_is_minus_one_and_null(pair, user):
    """An AoR without bindings: -1, and every attribute null, count too."""
    vs, va = messages(pair, "fetch", user)
    assert vs["rc"] == va["rc"] == "-1"
    for a in ATTRS:
        assert vs[(a, "n")] == va[(a, "n")] == "<null>", a


def test_uri_without_aor_is_minus_one(pair, user):
    vs, va = messages(pair, "fetch", uri="sip:127.0.0.1")
    assert vs["rc"] == va["rc"] == "-1"
    assert va[("addr", "n")] == vs[("addr", "n")] == "<null>"


def test_profile_kept_until_free(pair, user):
    """The profile outlives the request (per process: one worker here) and
    reg_free_contacts() empties it, returning 1."""
    for k in pair.values():
        register_set(k, user)
        assert message(k, "fetch", user)["rc"] == "1"
    vs, va = messages(pair, "none")
    assert va[("count", "n")] == vs[("count", "n")] == "3"
    assert va[("addr", "2")] == vs[("addr", "2")]
    vs, va = messages(pair, "free")
    assert vs["rc"] == va["rc"] == "1"
    for a in ATTRS:
        assert vs[(a, "n")] == va[(a, "n")] == "<null>", a
    vs, va = messages(pair, "none")
    assert va[("count", "n")] == vs[("count", "n")] == "<null>"


def test_refetch_replaces_the_profile(pair, user):
    other = user + "x"
    t0 = int(time.time())
    for k in pair.values():
        register_set(k, user)
        c = k.client()
        try:
            r = c.register(k.aor(other), ["sip:%s@127.0.0.1:5099" % other],
                           expires=60, call_id="ulc-o-" + other, cseq=3)
            assert r.status == 200
        finally:
            c.close()
        assert message(k, "fetch", user)["rc"] == "1"
    t1 = int(time.time())
    vs, va = messages(pair, "fetch", other)
    assert va[("count", "n")] == "1"
    compare(vs, va, pair, t0, t1)


def ht(k, key):
    out = k.kamcmd("htable.get", "ev", key, check=False)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("value:"):
            return line.split(":", 1)[1].strip()
    return None


def test_expired_route_gets_the_binding_as_stock(pair, user):
    """event_route[usrloc:contact-expired] runs once per expired binding
    with it in $ulc(exp=>...), as stock's; ours also runs
    event_route[aor:contact-expired] for it."""
    k_s, k_a = pair["stock"], pair["aor"]
    t0 = int(time.time())
    for k in pair.values():
        c = k.client(port=CLIENT_PORT)
        try:
            r = c.register(k.aor(user), [("sip:%s@127.0.0.1:5081" % user,
                                          {"q": "0.3"})],
                           expires=2, path="<sip:p.example;lr>",
                           call_id="ulc-e-" + user, cseq=11,
                           headers=[("X-Nat", "yes")])
            assert r.status == 200, r
        finally:
            c.close()
    t1 = int(time.time())
    key = k_a.aor_key(user)
    for k in pair.values():
        assert sip.wait_until(lambda: ht(k, key + "::ul_runs") == "1", 15), \
            (k.impl, ht(k, key + "::ul_runs"))
    assert ht(k_a, key + "::aor_runs") == "1"
    assert ht(k_s, key + "::aor_runs") is None  # stock has no such event
    vs = {(a, "n"): ht(k_s, key + "::" + a) for a in ATTRS}
    va = {(a, "n"): ht(k_a, key + "::" + a) for a in ATTRS}
    assert va[("count", "n")] == "1"
    assert va[("addr", "n")] == "sip:%s@127.0.0.1:5081" % user
    for a in ATTRS:
        same_or_why(key, va[(a, "n")], vs[(a, "n")], a, k_s, k_a, t0, t1)
    # still once each, a moment later
    time.sleep(1.5)
    assert ht(k_a, key + "::ul_runs") == "1"
    assert ht(k_a, key + "::aor_runs") == "1"
    assert ht(k_s, key + "::ul_runs") == "1"


KEMI_JS = r"""
var REG = KSR.MOD;
function ksr_request_route() {
    if (KSR.is_method("OPTIONS") && KSR.pv.is_null("$rU")) {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    if (KSR.is_method("REGISTER")) {
        REG.save("location", 0);
        return;
    }
    if (KSR.is_method("MESSAGE")) {
        var op = KSR.pv.gete("$hdr(X-Op)");
        var rc = "none";
        if (op == "fetch") {
            rc = REG.reg_fetch_contacts("location",
                                        KSR.pv.gete("$hdr(X-Uri)"), "k");
        } else if (op == "free") {
            rc = REG.reg_free_contacts("k");
        }
        KSR.sl.sl_send_reply(200, rc + "|" + KSR.pv.gete("$ulc(k=>count)")
            + "|" + KSR.pv.gete("$(ulc(k=>addr)[1])")
            + "|" + KSR.pv.gete("$ulc(k=>q)"));
        return;
    }
    KSR.sl.sl_send_reply(404, "Not Here");
}
function ksr_ev(evname) {
    if (evname != "usrloc:contact-expired") {
        return;
    }
    var a = KSR.pv.gete("$ulc(exp=>aor)");
    KSR.htable.sht_sets("ev", a + "::addr", KSR.pv.gete("$ulc(exp=>addr)"));
    var n = KSR.pv.get("$sht(ev=>" + a + "::runs)");
    KSR.htable.sht_seti("ev", a + "::runs", (n == null ? 0 : n) + 1);
}
"""


def kemi_pair(factory, tmp_path):
    def extra(impl):
        return {"extra": oracle.kemi_lines(tmp_path, impl, KEMI_JS)
                + 'modparam("htable", "htable", "ev=>size=4;")\n'
                'modparam("%s", "event_callback", "ksr_ev")\n'
                % oracle.MODULE[impl]
                # stock's usrloc makes a table only in a fixup
                + 'route[UL_TABLE] {\n\tsave("location");\n}\n'}
    return oracle.start(
        factory, per_impl=extra, make=KemiKamailio, children=1,
        modules=["app_jsdt", "htable"],
        modparams={"min_expires": 1, "timer_interval": 1,
                   "min_expires_mode": 0, "case_sensitive": 0})


def kemi_message(k, op, user):
    c = k.client()
    try:
        data, cid, cs = c.request(
            "MESSAGE", "sip:ulc@127.0.0.1:%d" % k.port, "sip:ulc@127.0.0.1",
            call_id=sip.token(16),
            headers=[("X-Op", op), ("X-Uri", k.ruri(user))])
        r = c.transact(data, cid, cs)
    finally:
        c.close()
    assert r.status == 200, r
    return r.reason


def test_kemi_fetch_free_and_expired_callback_as_stock(kamailio_factory,
                                                        tmp_path, user):
    """KSR.aor.reg_fetch_contacts/reg_free_contacts give what
    KSR.registrar's do, and event_callback is called with
    "usrloc:contact-expired" and $ulc(exp=>...) as stock's."""
    pair = kemi_pair(kamailio_factory, tmp_path)
    for k in pair.values():
        c = k.client(port=CLIENT_PORT)
        try:
            r = c.register(k.aor(user), [("sip:%s@127.0.0.1:5091" % user,
                                          {"q": "0.2"}),
                                         ("sip:%s@127.0.0.1:5092" % user,
                                          {"q": "0.7"})],
                           expires=2, call_id="ulc-k-" + user, cseq=5)
            assert r.status == 200, r
        finally:
            c.close()
    got = oracle.each(pair, lambda k: kemi_message(k, "fetch", user))
    assert got["stock"] == got["aor"]
    assert got["aor"] == "1|2|sip:%s@127.0.0.1:5091|700" % user
    got = oracle.each(pair, lambda k: kemi_message(k, "free", user))
    assert got["stock"] == got["aor"] == "1|||"
    got = oracle.each(pair,
                      lambda k: kemi_message(k, "fetch", user + "none"))
    assert got["stock"] == got["aor"] == "-1|||"
    key = pair["aor"].aor_key(user)
    for k in pair.values():
        assert sip.wait_until(lambda: ht(k, key + "::runs") == "2", 15), \
            (k.impl, ht(k, key + "::runs"))
        assert ht(k, key + "::addr").startswith("sip:%s@127.0.0.1:509"
                                                % user)


def tcp_listen(impl):
    """kamailio_factory keywords: TCP too, on the UDP port"""
    port = sip.free_port(tcp_span=1)
    return {"port": port,
            "globals_": "disable_tcp=no\nlisten=tcp:127.0.0.1:%d\n" % port}


def test_tcp_binding_socket_and_conid_as_stock(kamailio_factory, user):
    """A binding made over TCP: $ulc gives its socket (tcp:...) and the id
    of the connection it came on (conid), as stock's."""
    pair = start(kamailio_factory, per_impl=tcp_listen)
    conns = []
    try:
        for k in pair.values():
            t = sip.TcpClient(k.port)
            conns.append(t)
            r = t.register(k.aor(user), ["<%s>" % t.contact(user)],
                           expires=60, call_id="ulc-tcp-" + user, cseq=1)
            assert r.status == 200, r
        vs, va = messages(pair, "fetch", user)
    finally:
        for t in conns:
            t.close()
    assert vs["rc"] == va["rc"] == "1"
    assert va[("socket", "n")] == "tcp:127.0.0.1:%d" % pair["aor"].port
    assert vs[("socket", "n")] == "tcp:127.0.0.1:%d" % pair["stock"].port
    assert int(va[("conid", "n")]) > 0
    assert va[("conid", "n")] == vs[("conid", "n")]
    for a in ("aor", "count", "q", "cseq", "callid", "flags", "cflags",
              "methods", "regid", "instance", "path", "received"):
        assert va[(a, "n")] == vs[(a, "n")], a
