"""Script events: event_route[aor:contact-inserted|updated|deleted|expired]
run once per change, after the change, with the binding in $xavp(aor=>...),
and with no slot lock held (the route itself calls registered())."""

import time

import pytest

from checks import assert_ok

# Each event route counts into an htable and records the last contact; the
# test reads them with kamcmd htable.get (no log greps).
EXTRA = """
modparam("htable", "htable", "ev=>size=4;")
route[INC] {
    $var(x) = $sht(ev=>$var(k));
    $sht(ev=>$var(k)) = $var(x) + 1;
}
event_route[aor:contact-inserted] {
    $var(k) = "inserted"; route(INC);
    $sht(ev=>last_inserted) = $xavp(aor=>contact);
    $sht(ev=>last_aor) = $xavp(aor=>aor);
    $var(u) = "sip:" + $xavp(aor=>aor) + "@127.0.0.1";
    if(registered("location", "$var(u)")) {
        $var(k) = "registered_inside"; route(INC);
    }
}
event_route[aor:contact-updated] {
    $var(k) = "updated"; route(INC);
}
event_route[aor:contact-deleted] {
    $var(k) = "deleted"; route(INC);
    $sht(ev=>last_deleted) = $xavp(aor=>contact);
}
event_route[aor:contact-expired] {
    $var(k) = "expired"; route(INC);
}
"""


@pytest.fixture
def kev(kamailio_factory):
    return kamailio_factory(modules=["htable"], extra=EXTRA,
                            modparams={"min_expires": 1,
                                       "timer_interval": 1})


def counter(k, name):
    out = k.kamcmd("htable.get", "ev", name, check=False)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("value:"):
            return line.split(":", 1)[1].strip()
    return None


def count(k, name):
    v = counter(k, name)
    return int(v) if v not in (None, "") else 0


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def test_insert_update_delete_fire_once_each(kev, user):
    aor = kev.aor(user)
    with kev.client() as c:
        assert_ok(c.register(aor, [ct(user, 5201), ct(user, 5202)],
                             expires=300))
        assert count(kev, "inserted") == 2
        assert counter(kev, "last_aor") == user
        # the route ran after the change and without the lock:
        # registered() inside it found the AoR
        assert count(kev, "registered_inside") == 2
        assert_ok(c.register(aor, [ct(user, 5201)], expires=300))
        assert count(kev, "updated") == 1
        assert_ok(c.register(aor, [ct(user, 5201)], expires=0))
        assert count(kev, "deleted") == 1
        assert counter(kev, "last_deleted") == ct(user, 5201)
        # RFC 3261 10.3 step 6: * removes the rest, one event each
        assert_ok(c.register(aor, ["*"], expires=0))
    assert count(kev, "deleted") == 2
    assert count(kev, "inserted") == 2
    assert count(kev, "expired") == 0


def test_expiry_fires_expired_once(kev, user):
    aor = kev.aor(user)
    with kev.client() as c:
        assert_ok(c.register(aor, [ct(user, 5203)], expires=1))
    deadline = time.time() + 8
    while time.time() < deadline and count(kev, "expired") == 0:
        time.sleep(0.2)
    assert count(kev, "expired") == 1
    time.sleep(1.5)
    assert count(kev, "expired") == 1
    assert count(kev, "deleted") == 0


def test_rpc_removal_fires_deleted(kev, user):
    aor = kev.aor(user)
    with kev.client() as c:
        assert_ok(c.register(aor, [ct(user, 5204), ct(user, 5205)],
                             expires=300))
    kev.kamcmd("aor.rm", kev.aor_key(user))
    assert count(kev, "deleted") == 2


def test_flush_fires_deleted_for_each_binding(kev, user):
    with kev.client() as c:
        for i in range(3):
            assert_ok(c.register(kev.aor(user + str(i)), [ct(user, 5210 + i)],
                                 expires=300))
    kev.kamcmd("aor.flush")
    assert count(kev, "deleted") == 3


def test_unregister_fires_deleted(kamailio_factory, user):
    k = kamailio_factory(
        modules=["htable"], extra=EXTRA,
        route="""
    if($hdr(X-Op) == "unregister") {
        unregister("location", "sip:$rU@127.0.0.1");
        sl_send_reply("200", "Unregistered");
        exit;
    }
    sl_send_reply("404", "Not Found");
    exit;
""")
    with k.client() as c:
        assert_ok(c.register(k.aor(user), [ct(user, 5220)], expires=300))
        r = c.invite(k.ruri(user), headers=[("X-Op", "unregister")],
                     method="MESSAGE")
    assert r.status == 200, r.raw
    assert count(k, "deleted") == 1
