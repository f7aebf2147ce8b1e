"""Keepalive of registered contacts (issue 18), usrloc's ka_mode,
ka_timeout, ka_from and ka_domain: stock usrloc+registrar is the oracle
in the same run (oracle.py). Each test starts a stock and an aor
Kamailio with the same modparams and registers the same contacts, each
pointing at a UDP user agent of its own (sip.Uas, which answers OPTIONS
with 200).

What differs by design is normalised, and nothing else: the Via's port
and branch, the From tag (stock's carries its ruid "uloc-...", ours
"aor-<id>", and the send time), the Call-ID (random and the pid), the
R-URI's and To's port (each server and UA listens on a port of its own).
"""

import os
import re
import socket
import time

import pytest

import oracle
import sip

REGISTER = """
        if($hdr(X-Nat) == "1") {
            setbflag(3);
        }
        save("location");
        exit;
"""


def start(factory, **modparams):
    params = {"timer_interval": 1, "ka_from": "sip:ka@example.org",
              "ka_domain": "example.org"}
    params.update(modparams)
    return oracle.start(factory, modparams=params, register=REGISTER)


def register(pair, uas, user, nat=False, expires=300):
    def run(k, c):
        r = c.register(k.aor(user), [uas[k.impl].contact(user)],
                       expires=expires,
                       headers=[("X-Nat", "1")] if nat else [])
        return r.status
    r = oracle.both(pair, run)
    assert r["stock"] == r["aor"] == 200, r


def normalise(req, k, uas):
    """The request's first line and headers with what differs by design
    replaced (the module docstring)."""
    out = [req.first_line.replace(":%d" % uas.port, ":UAPORT")]
    for n, v in req.headers:
        v = v.replace(":%d" % uas.port, ":UAPORT")
        v = v.replace(":%d" % k.port, ":PORT")
        if n == "via":
            v = re.sub(r";branch=z9hG4bKx\.\d+\.\d+\.0$", ";branch=B", v)
        if n == "from":
            v = re.sub(r";tag=.*$", ";tag=T", v)
        if n == "call-id":
            v = re.sub(r"^ksrulka-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+\.[0-9a-f]+$",
                       "ksrulka-X", v)
        out.append((n, v))
    return out


def ul_field(k, name):
    """The values of field name in k's ul.dump, as ints."""
    out = k.kamcmd("ul.dump", check=False)
    return [int(v) for v in re.findall(r"%s: (-?\d+)" % name, out)]


def wait(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


@pytest.fixture
def uas():
    u = {impl: sip.Uas() for impl in oracle.IMPLS}
    yield u
    for x in u.values():
        x.close()


def test_answering_contact_is_pinged_as_stock_pings_it(kamailio_factory, uas):
    pair = start(kamailio_factory, ka_mode=1)
    t0 = int(time.time())
    register(pair, uas, "ka-ans")
    reqs = {}
    for impl, k in pair.items():
        reqs[impl] = uas[impl].wait_for("OPTIONS", timeout=4)
        assert reqs[impl] is not None, "%s sent no OPTIONS" % impl
    shapes = {impl: normalise(reqs[impl], pair[impl], uas[impl])
              for impl in oracle.IMPLS}
    assert shapes["stock"] == shapes["aor"]
    assert reqs["aor"].ruri == uas["aor"].contact("ka-ans")
    assert reqs["aor"].get("to") == "<sip:ka-ans@127.0.0.1>" or \
        "ka-ans" in reqs["aor"].get("to")
    # each interval: a second ping within two intervals of the first
    for impl in oracle.IMPLS:
        n = wait(lambda: len([r for r in uas[impl].requests
                              if r.method == "OPTIONS"]) >= 2, 3)
        assert n, "%s pinged once only" % impl
    # the answers: KA-Roundtrip set, Last-Keepalive the answer's time
    for impl, k in pair.items():
        rtt = wait(lambda: [v for v in ul_field(k, "KA-Roundtrip") if v > 0],
                   3)
        assert rtt, "%s: no KA-Roundtrip in ul.dump" % impl
        assert rtt[0] < 1000000
        last = ul_field(k, "Last-Keepalive")
        assert last and last[0] >= t0, (impl, last, t0)
    # aor.show has them too
    show = pair["aor"].kamcmd("aor.show", "ka-ans")
    assert int(re.search(r"ka_roundtrip: (\d+)", show).group(1)) > 0, show
    assert int(re.search(r"last_keepalive: (\d+)", show).group(1)) >= t0
    st = pair["aor"].kamcmd("stats.get_statistics", "aor:")
    assert int(re.search(r"keepalives_answered\D*(\d+)", st).group(1)) >= 1, st


def test_silent_contact_is_removed_after_ka_timeout_as_stock(
        kamailio_factory, uas):
    pair = start(kamailio_factory, ka_mode=1, ka_timeout=3)
    for u in uas.values():
        u.close()  # nothing answers
    t0 = time.monotonic()
    register(pair, uas, "ka-silent")
    gone = {}
    deadline = t0 + 25
    while len(gone) < 2 and time.monotonic() < deadline:
        for impl, k in pair.items():
            if impl not in gone and "ka-silent" not in k.kamcmd(
                    "ul.dump", check=False):
                gone[impl] = time.monotonic() - t0
        time.sleep(0.2)
    assert set(gone) == {"stock", "aor"}, gone
    # stock: past last + ka_timeout, the contact expires in 10 s
    assert 12 <= gone["stock"] <= 18, gone
    assert abs(gone["aor"] - gone["stock"]) <= 2.5, gone


def test_ka_mode_0_sends_nothing_and_nat_mode_pings_nat_only(
        kamailio_factory, uas):
    pair0 = start(kamailio_factory, ka_mode=0, nat_bflag=3)
    register(pair0, uas, "ka-off", nat=True)
    pair2 = start(kamailio_factory, ka_mode=2, nat_bflag=3)
    other = {impl: sip.Uas() for impl in oracle.IMPLS}
    try:
        register(pair2, uas, "ka-natted", nat=True)
        register(pair2, other, "ka-direct", nat=False)
        for impl in oracle.IMPLS:
            r = uas[impl].wait_for("OPTIONS", timeout=4)
            assert r is not None and "ka-natted" in r.ruri, impl
        time.sleep(2.5)  # two more intervals: the direct one stays silent
        for impl in oracle.IMPLS:
            assert not [r for r in other[impl].requests
                        if r.method == "OPTIONS"], impl
            assert not [r for r in uas[impl].requests
                        if r.method == "OPTIONS" and "ka-off" in r.ruri], impl
    finally:
        for x in other.values():
            x.close()


def test_down_contact_is_skipped_by_lookup_and_back_when_it_answers(
        kamailio_factory):
    """ka_down_after (not in stock, issue 18): a binding silent for it is
    passed over by lookup() (404 here, no other binding), still pinged,
    and used again from its next answer."""
    k = kamailio_factory(impl="aor", register=REGISTER, modparams={
        "timer_interval": 1, "ka_mode": 1, "ka_down_after": 2,
        "ka_timeout": 60})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    u = sip.Uas(sock=sock)
    try:
        with k.client() as c:
            assert c.register(k.aor("ka-down"), [u.contact("ka-down")],
                              expires=300).status == 200
            assert u.wait_for("OPTIONS", timeout=3) is not None
            assert c.invite(k.aor("ka-down"), method="MESSAGE").status == 200
            # it stops answering (the socket stays open, nobody reads)
            u.running = False
            u.thread.join(2)
            def silent_for():
                show = k.kamcmd("aor.show", "ka-down")
                last = int(re.search(r"last_keepalive: (\d+)", show).group(1))
                return time.time() - last
            assert wait(lambda: silent_for() > 3.2, 6)
            assert c.invite(k.aor("ka-down"), method="MESSAGE").status == 404
            # it answers again
            u = sip.Uas(sock=sock)
            assert wait(lambda: c.invite(k.aor("ka-down"), method="MESSAGE",
                                         timeout=2).status == 200, 4)
        st = k.kamcmd("stats.get_statistics", "aor:")
        assert int(re.search(r"keepalive_down_skipped\D*(\d+)",
                             st).group(1)) >= 1, st
    finally:
        u.close()


def test_a_config_without_pv_starts_as_with_stock(tmp_path):
    """ka_logmsg's default names $tu, a pv.so variable: as stock, it is
    parsed only when keepalives are on, so a minimal config that loads no
    pv.so starts (with stock and with aor)."""
    import kam
    for impl in ("stock", "aor"):
        mods = ('loadmodule "usrloc.so"\nloadmodule "registrar.so"'
                if impl == "stock" else 'loadmodule "%s"' % kam.AOR_SO)
        port = sip.free_udp_port()
        d = str(tmp_path / impl)
        cfg = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
listen=udp:127.0.0.1:%(port)d
%(mpath)s
loadmodule "sl.so"
loadmodule "ctl.so"
loadmodule "tm.so"
loadmodule "textops.so"
%(mods)s
modparam("ctl", "binrpc", "unix:%(ctl)s")
request_route {
    if(is_method("REGISTER")) { save("location"); exit; }
    if(is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
    sl_send_reply("404", "Not here");
}
""" % {"port": port, "mods": mods, "ctl": os.path.join(d, "ctl"),
       "mpath": 'mpath="%s"' % kam.MPATH if kam.MPATH else ""}
        k = kam.Kamailio(d, impl=impl, port=port, cfg_text=cfg)
        try:
            k.start()
            with sip.Client(k.port) as c:
                assert c.register("sip:bob@127.0.0.1",
                                  ["sip:bob@127.0.0.1:5999"],
                                  expires=60).status == 200, impl
        finally:
            k.stop()
