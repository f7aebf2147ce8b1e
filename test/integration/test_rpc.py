"""kamcmd aor.show, aor.count, aor.flush (DESIGN.md "Management").

With AOR_IMPL=stock, kam.show() and kam.count() fall back to ul.lookup and
the usrloc statistics; aor.flush has no stock equivalent.
"""

import re

import pytest

from checks import assert_bindings, assert_ok
import kam as kammod
from kam import KamcmdError

KAM_OPTIONS = {"modparams": {"use_path": 1}}


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def test_show_of_unknown_aor_is_fault_404(kam, user):
    """aor.show answers fault 404 for an AoR without bindings."""
    if kam.impl == "stock":
        pytest.fail("aor.show does not exist in the stock modules")
    with pytest.raises(KamcmdError) as e:
        kam.kamcmd("aor.show", kam.aor_key(kam.aor(user)))
    assert e.value.code == 404, e.value


def test_show_reports_every_binding_with_its_fields(kam, client, user):
    """aor.show lists each binding: contact, expires left, q, Call-ID, CSeq,
    User-Agent, path, socket, ruid."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;q=0.4" % ct(user, 5101), ct(user, 5102)],
                        expires=300, call_id="rpc-" + user, cseq=7,
                        path="<sip:edge@127.0.0.1:5199;lr>")
    assert_ok(r)
    shown = kam.show(aor)
    assert shown is not None
    by_uri = {b["contact"].strip("<>"): b for b in shown}
    assert sorted(by_uri) == [ct(user, 5101), ct(user, 5102)], shown
    b = by_uri[ct(user, 5101)]
    for key in ("expires", "q", "callid", "cseq", "useragent", "path",
                "socket", "ruid"):
        assert key in b, "aor.show lacks %r: %s" % (key, b)
    assert 298 <= int(b["expires"]) <= 300
    assert float(b["q"]) == pytest.approx(0.4)
    assert b["callid"] == "rpc-" + user
    assert int(b["cseq"]) == 7
    assert "sip:edge@127.0.0.1:5199" in b["path"]
    assert by_uri[ct(user, 5101)]["ruid"] != by_uri[ct(user, 5102)]["ruid"]


def test_show_accepts_the_table_argument(kam, client, user):
    """aor.show AOR location == aor.show AOR."""
    if kam.impl == "stock":
        pytest.fail("aor.show does not exist in the stock modules")
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    out = kam.kamcmd("aor.show", kam.aor_key(aor), "location")
    assert ct(user, 5101) in out


def test_count_follows_registrations(kam, client, user):
    """aor.count reports AoRs and bindings of the table."""
    a0, b0 = kam.count()
    assert_ok(client.register(kam.aor(user), [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    assert_ok(client.register(kam.aor(user + "b"), [ct(user, 5103)],
                              expires=300))
    assert kam.count() == (a0 + 2, b0 + 3)
    assert_ok(client.register(kam.aor(user), [ct(user, 5101)], expires=0))
    assert kam.count() == (a0 + 2, b0 + 2)


def test_flush_removes_every_binding(kamailio_factory, user):
    """aor.flush empties the table and reports how many bindings went."""
    kam = kamailio_factory()
    with kam.client() as c:
        for i in range(3):
            assert_ok(c.register(kam.aor("%s%d" % (user, i)),
                                 [ct(user, 5101 + i)], expires=300))
        assert_ok(c.register(kam.aor(user + "0"), [ct(user, 5110)],
                             expires=300))
        assert kam.count() == (3, 4)
        assert kam.flush() == 4
        assert kam.count() == (0, 0)
        assert_bindings(c, kam.aor(user + "0"), [])
        assert c.invite(kam.ruri(user + "1")).status == 404


def test_count_and_flush_accept_the_table_argument(kamailio_factory, user):
    """aor.count location / aor.flush location name the table explicitly."""
    if kammod.IMPL == "stock":
        pytest.fail("aor.count/aor.flush do not exist in the stock modules")
    kam = kamailio_factory()
    with kam.client() as c:
        assert_ok(c.register(kam.aor(user), [ct(user, 5101), ct(user, 5102)],
                             expires=300))
    assert "2" in kam.kamcmd("aor.count", "location")
    assert "2" in kam.kamcmd("aor.flush", "location")
    assert kam.count() == (0, 0)


def stat(kam, name):
    """A counter from `stats.get_statistics` (group aor; registrar in stock)."""
    group = "registrar" if kam.impl == "stock" else "aor"
    out = kam.kamcmd("stats.get_statistics", "%s:" % group)
    m = re.search(r"^%s:%s = (\d+)$" % (group, name), out, re.M)
    assert m, "no counter %s:%s in\n%s" % (group, name, out)
    return int(m.group(1))


def test_accepted_and_rejected_regs_counters(kam, client, user):
    """STYLE.md: counters keep the stock names accepted_regs and
    rejected_regs: one 200 and one 423 move each by one."""
    acc, rej = stat(kam, "accepted_regs"), stat(kam, "rejected_regs")
    assert_ok(client.register(kam.aor(user), [ct(user, 5101)], expires=300))
    r = client.register(kam.aor(user), [ct(user, 5101)], expires=5)
    assert r.status == 423
    assert stat(kam, "accepted_regs") == acc + 1
    assert stat(kam, "rejected_regs") == rej + 1
