"""Binding expiry: RFC 3261 10.2.1 / 10.3 step 6.

The main instance has timer_interval=60, so within a test the expiry timer
does not run: whatever disappears after its expiry is hidden by the read
path itself (an expired binding is never returned). A second instance with
timer_interval=1 checks that the timer removes records.
"""

import time

import pytest

import sip
from checks import assert_bindings, assert_ok, bindings

KAM_OPTIONS = {"modparams": {"min_expires": 1, "timer_interval": 60}}


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def wait_gone(client, aor, uri, timeout):
    """Seconds until uri is no longer listed for aor, or None on timeout."""
    t0 = time.monotonic()
    gone = sip.wait_until(lambda: uri not in bindings(client, aor), timeout,
                          interval=0.1)
    return time.monotonic() - t0 if gone else None


def test_binding_disappears_after_its_expires(kam, client, user):
    """RFC 3261 10.2.1: a binding lasts its expiration interval, then is
    gone; with expires=2 it is listed at once and gone by about 3 s."""
    aor = kam.aor(user)
    t0 = time.monotonic()
    r = client.register(aor, [ct(user, 5101)], expires=2)
    assert_ok(r)
    assert 1 <= r.contact(ct(user, 5101)).expires <= 2
    assert ct(user, 5101) in bindings(client, aor)
    assert wait_gone(client, aor, ct(user, 5101), timeout=4.0) is not None, \
        "binding still listed 4 s after a 2 s registration"
    assert time.monotonic() - t0 >= 1.0, "binding vanished before expiring"


def test_expired_binding_is_not_returned_before_the_timer_runs(kam, client,
                                                               user):
    """An expired binding is never returned, even if the timer
    (timer_interval=60) has not removed it yet: a query at expires+1 s
    lists only the live binding."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=2))
    assert_ok(client.register(aor, [ct(user, 5102)], expires=300))
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(0.1)
    got = assert_bindings(client, aor, [ct(user, 5102)])
    assert got[ct(user, 5102)].expires >= 296


def test_expired_binding_is_not_used_by_lookup(kam, client, uas_factory, user):
    """lookup() never routes to an expired binding: 404 once it expired."""
    uas = uas_factory()
    aor = kam.aor(user)
    assert_ok(client.register(aor, [uas.contact(user)], expires=1))
    assert wait_gone(client, aor, uas.contact(user), timeout=3.0) is not None
    with kam.client() as c:
        assert c.invite(kam.ruri(user)).status == 404
    assert uas.received("INVITE") == []


def test_refresh_before_expiry_extends_the_binding(kam, client, user):
    """RFC 3261 10.2.1: a refresh sets a new expiration interval."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=2))
    r = client.register(aor, [ct(user, 5101)], expires=60)
    assert_ok(r)
    assert r.contact(ct(user, 5101)).expires >= 59
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        time.sleep(0.1)
    assert ct(user, 5101) in bindings(client, aor)


@pytest.fixture(scope="module")
def kam_timer(module_kamailio):
    return module_kamailio(modparams={"min_expires": 1, "timer_interval": 1})


def test_timer_removes_expired_records(kam_timer, user):
    """The expiry timer (timer_interval=1) frees the record once its last
    binding expired: aor.show stops finding it and aor.count goes down."""
    kam = kam_timer
    aor = kam.aor(user)
    with kam.client() as c:
        assert_ok(c.register(aor, [ct(user, 5101), ct(user, 5102)],
                             expires=1))
    assert kam.show(aor) is not None
    assert kam.count()[1] >= 2
    assert sip.wait_until(lambda: kam.show(aor) is None, 6.0), \
        "record still shown 6 s after its bindings expired"
    assert sip.wait_until(lambda: kam.count() == (0, 0), 3.0), kam.count()


@pytest.fixture(scope="module")
def kam_one_contact(module_kamailio):
    return module_kamailio(modparams={"min_expires": 1, "timer_interval": 60,
                                      "max_contacts": 1})


def test_expired_binding_does_not_count_against_max_contacts(
        kam_one_contact, user):
    """max_contacts counts live bindings only: once the first binding
    expired, a second contact fits (timer_interval=60: no cleanup ran)."""
    kam = kam_one_contact
    aor = kam.aor(user)
    with kam.client() as c:
        assert_ok(c.register(aor, [ct(user, 5101)], expires=1))
        assert wait_gone(c, aor, ct(user, 5101), timeout=3.0) is not None
        assert_ok(c.register(aor, [ct(user, 5102)], expires=300))
        assert_bindings(c, aor, [ct(user, 5102)])


def test_timer_sweeps_every_slot(kam_timer, user):
    """The timer's bounded slices cover the whole table: 300 AoRs that
    expire together are all gone within a few ticks (timer_interval=1)."""
    kam = kam_timer
    a0, b0 = kam.count()
    with kam.client() as c:
        for i in range(300):
            assert_ok(c.register(kam.aor("%s-%d" % (user, i)),
                                 [ct(user, 5101)], expires=1))
    assert kam.count()[0] >= a0 + 1
    assert sip.wait_until(lambda: kam.count() == (a0, b0), 8.0), kam.count()
