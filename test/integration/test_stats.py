"""Counters in group aor (kamcmd stats.get_statistics aor:) follow a
scripted sequence of registrations, refusals, lookups and expiries, and the
gauges match the store (aor.count)."""

import time

from checks import assert_ok


def stats(k):
    out = k.kamcmd("stats.get_statistics", "aor:")
    vals = {}
    for line in out.splitlines():
        if "=" in line:
            name, v = line.split("=", 1)
            vals[name.strip().split(":", 1)[1]] = int(v.strip())
    return vals


def count(k):
    out = k.kamcmd("aor.count")
    vals = {}
    for line in out.splitlines():
        if ":" in line:
            key, v = line.split(":", 1)
            vals[key.strip()] = v.strip()
    return int(vals["aors"]), int(vals["bindings"])


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def test_counters_follow_a_scripted_sequence(kamailio_factory, uas_factory,
                                             user):
    k = kamailio_factory(modparams={"min_expires": 2, "timer_interval": 1})
    uas = uas_factory()
    s0 = stats(k)
    with k.client() as c:
        assert_ok(c.register(k.aor(user + "a"),
                             [uas.contact(user + "a"), ct(user, 5302)],
                             expires=300))
        # 423: below min_expires (RFC 3261 10.3 step 7)
        assert c.register(k.aor(user + "c"), [ct(user, 5304)],
                          expires=1).status == 423
        # CSeq not above the stored one (10.3 step 7)
        r = c.register(k.aor(user + "d"), [ct(user, 5305)], expires=300,
                       call_id="stats-cid", cseq=10)
        assert_ok(r)
        assert c.register(k.aor(user + "d"), [ct(user, 5305)], expires=300,
                          call_id="stats-cid", cseq=9).status == 400
        uas.code = 200
        c.invite(k.ruri(user + "a"), method="MESSAGE", timeout=1.0)
        assert uas.wait_for("MESSAGE") is not None
        assert c.invite(k.ruri(user + "zz"), method="MESSAGE").status == 404
        assert_ok(c.register(k.aor(user + "b"), [ct(user, 5303)], expires=2))
    s1 = stats(k)
    assert s1["accepted_regs"] - s0["accepted_regs"] == 3
    assert s1["rejected_regs"] - s0["rejected_regs"] == 2
    assert s1["rejected_too_brief"] - s0["rejected_too_brief"] == 1
    assert s1["rejected_cseq"] - s0["rejected_cseq"] == 1
    assert s1["lookups_found"] - s0["lookups_found"] == 1
    assert s1["lookups_not_found"] - s0["lookups_not_found"] == 1
    aors, bindings = count(k)
    assert (s1["location_aors"], s1["location_bindings"]) == (aors, bindings)
    assert (aors, bindings) == (3, 4)
    assert s1["location_shm_bytes"] > 0
    # the 2 s binding expires: the timer removes it and counts it
    deadline = time.time() + 8
    while time.time() < deadline and stats(k)["expired_bindings"] == 0:
        time.sleep(0.2)
    s2 = stats(k)
    assert s2["expired_bindings"] - s0["expired_bindings"] == 1
    assert (s2["location_aors"], s2["location_bindings"]) == count(k) == (2, 3)
    # shared memory held falls back when everything goes
    k.kamcmd("aor.flush")
    s3 = stats(k)
    assert (s3["location_aors"], s3["location_bindings"]) == (0, 0)
    assert s3["location_shm_bytes"] == s0["location_shm_bytes"]
