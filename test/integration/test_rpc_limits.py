"""kamcmd aor.add goes through the merge and the limits of a REGISTER
(rpc.c aor_rpc_add -> ops.c aor_ops_save, an operator's request):
shm_reserve, max_contacts with each max_contacts_policy, max_bindings, and
the binding identity of RFC 3261 10.3 step 7.

Each test runs the same steps once by REGISTER and once by aor.add, on AoRs
of their own, and takes the REGISTER's answer as the one aor.add must give
(a 503 is a fault 503 of the RPC, a 200 an RPC reply).
"""

import re

import pytest

import kam as kammod
import sip
from checks import assert_bindings, assert_error, assert_ok
from kam import KamcmdError, parse_rpc, rpc_find
from test_events import EXTRA as EVENTS_EXTRA
from test_events import count as event_count
from test_events import counter as event_value
from test_shm import PAD, flood
from test_shm import start as start_small_shm
from test_stats import stats

if kammod.IMPL == "stock":
    pytestmark = pytest.mark.skip(reason="aor.add is the aor module's")


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def add(k, user, contact, expires, *more):
    """aor.add of user's AoR; the ruid of the binding it made or changed."""
    out = k.kamcmd("aor.add", k.aor_key(k.aor(user)), contact, expires, *more)
    return rpc_find(parse_rpc(out), "ruid")[0]


def add_fault(k, user, contact, expires):
    """The KamcmdError of an aor.add that must be refused."""
    with pytest.raises(KamcmdError) as e:
        k.kamcmd("aor.add", k.aor_key(k.aor(user)), contact, expires)
    return e.value


def shown(k, user):
    """{contact: binding} of aor.show (empty when the AoR has none)."""
    return {b["contact"].strip("<>"): b for b in k.show(k.aor(user)) or []}


# -- shm_reserve --------------------------------------------------------------

def test_add_of_a_new_binding_within_shm_reserve_is_503_as_a_register_is(
        kamailio_factory, user):
    """-m 4, default shm_reserve (10 %): once REGISTERs of new bindings get
    503, an aor.add of a new binding (new AoR, or a new contact of an AoR)
    is a fault 503 naming shm_reserve and stores nothing, as the REGISTER
    of the same binding is refused; a refresh of an existing binding, made
    by aor.add or by REGISTER, is accepted by both."""
    k = start_small_shm(kamailio_factory)
    op, ph = user + "op", user + "ph"  # kept by aor.add / by REGISTER
    add(k, op, ct(op, 5101), 3600)
    with k.client() as c:
        assert_ok(c.register(k.aor(ph), [ct(ph, 5102)], expires=3600))
        accepted, refused = flood(k, c, user + "f")
        assert len(accepted) > 100, "refused too early: %s" % refused.raw
        assert_error(refused, 503)
        before = k.count()
        assert before == (2 + len(accepted), 2 + len(accepted))

        # a new AoR
        pad = "sip:%%s@127.0.0.1:5999;pad=%s" % PAD
        assert_error(c.register(k.aor(user + "n1"), [pad % "n1"]), 503)
        e = add_fault(k, user + "n2", pad % "n2", 3600)
        assert e.code == 503, e
        assert re.search(r"memory|shm_reserve", e.out + e.err), e
        # a new contact of an existing AoR
        assert_error(c.register(k.aor(ph), [ct(ph, 5103)], expires=3600), 503)
        e = add_fault(k, op, ct(op, 5104), 3600)
        assert e.code == 503 and "shm_reserve" in e.out + e.err, e
        assert k.count() == before
        assert shown(k, user + "n2") == {}
        assert sorted(shown(k, op)) == [ct(op, 5101)]

        # refreshes add nothing: accepted by both
        assert_ok(c.register(k.aor(ph), [ct(ph, 5102)], expires=1800))
        add(k, op, ct(op, 5101), 1800)
        add(k, ph, ct(ph, 5102), 1200)  # the phone's binding, by aor.add
        assert k.count() == before
        assert 1790 <= int(shown(k, op)[ct(op, 5101)]["expires"]) <= 1800
        assert 1190 <= int(shown(k, ph)[ct(ph, 5102)]["expires"]) <= 1200


# -- max_contacts -------------------------------------------------------------

def test_add_over_max_contacts_reject_is_503_as_a_register_is(
        kamailio_factory, user):
    """max_contacts=2, max_contacts_policy=reject: the third binding of an
    AoR is refused, by REGISTER with 503 and by aor.add with fault 503
    "Too many contacts"; the AoR keeps its two bindings. A refresh at the
    limit is accepted by both."""
    k = kamailio_factory(modparams={"max_contacts": 2,
                                    "max_contacts_policy": "reject"})
    ph, op = user + "ph", user + "op"
    with k.client() as c:
        for port in (5101, 5102):
            assert_ok(c.register(k.aor(ph), [ct(ph, port)], expires=300))
            add(k, op, ct(op, port), 300)
        assert_error(c.register(k.aor(ph), [ct(ph, 5103)], expires=300), 503)
        e = add_fault(k, op, ct(op, 5103), 300)
        assert e.code == 503 and "Too many contacts" in e.out + e.err, e
        assert_bindings(c, k.aor(ph), [ct(ph, 5101), ct(ph, 5102)])
        assert_bindings(c, k.aor(op), [ct(op, 5101), ct(op, 5102)])
        assert_ok(c.register(k.aor(ph), [ct(ph, 5101)], expires=600))
        add(k, op, ct(op, 5101), 600)
    assert k.count() == (2, 4)


@pytest.mark.parametrize("policy", ["evict_oldest", "evict_expiring"])
def test_add_over_max_contacts_evicts_as_a_register_does(
        kamailio_factory, user, policy):
    """max_contacts=2 with an evicting policy: the third aor.add succeeds
    and the binding the policy picks is gone (evict_oldest: the first
    added; evict_expiring: the one closest to expiry), as with REGISTERs of
    the same bindings. Each eviction counts in evicted_bindings and runs
    event_route[aor:contact-deleted] for the evicted binding."""
    k = kamailio_factory(modules=["htable"], extra=EVENTS_EXTRA,
                         modparams={"max_contacts": 2,
                                    "max_contacts_policy": policy})
    ph, op = user + "ph", user + "op"
    # (port, expires): evict_oldest drops 5101, evict_expiring 5102
    steps = [(5101, 900), (5102, 120), (5103, 600)]
    gone = 5101 if policy == "evict_oldest" else 5102
    s0 = stats(k)
    with k.client() as c:
        for port, expires in steps:
            assert_ok(c.register(k.aor(ph), [ct(ph, port)], expires=expires))
    kept = sorted(ct(ph, p) for p, _ in steps if p != gone)
    assert sorted(shown(k, ph)) == kept
    assert stats(k)["evicted_bindings"] - s0["evicted_bindings"] == 1
    assert event_count(k, "deleted") == 1

    ruids = [add(k, op, ct(op, port), expires) for port, expires in steps]
    now = shown(k, op)
    assert sorted(now) == sorted(ct(op, p) for p, _ in steps if p != gone)
    assert sorted(b["ruid"] for b in now.values()) == sorted(
        r for r, (p, _) in zip(ruids, steps) if p != gone)
    assert stats(k)["evicted_bindings"] - s0["evicted_bindings"] == 2
    assert event_count(k, "deleted") == 2
    assert event_value(k, "last_deleted") == ct(op, gone)
    assert k.count() == (2, 4)


# -- max_bindings -------------------------------------------------------------

def test_add_at_max_bindings_is_503_table_full_as_a_register_is(
        kamailio_factory, user):
    """max_bindings=3: with three bindings in the table a new one is
    refused, by REGISTER with 503 and by aor.add with fault 503 "Table
    full", for a new AoR and for a new contact of an AoR alike; refreshes
    at the limit are accepted by both."""
    k = kamailio_factory(modparams={"max_bindings": 3})
    ph, op = user + "ph", user + "op"
    with k.client() as c:
        assert_ok(c.register(k.aor(ph), [ct(ph, 5101)], expires=300))
        add(k, op, ct(op, 5101), 300)
        add(k, op, ct(op, 5102), 300)
        assert k.count() == (2, 3)
        assert_error(c.register(k.aor(user + "n"), [ct(user, 5103)],
                                expires=300), 503)
        e = add_fault(k, user + "m", ct(user, 5104), 300)
        assert e.code == 503 and "Table full" in e.out + e.err, e
        assert_error(c.register(k.aor(ph), [ct(ph, 5105)], expires=300), 503)
        e = add_fault(k, op, ct(op, 5106), 300)
        assert e.code == 503 and "Table full" in e.out + e.err, e
        assert k.count() == (2, 3)
        assert_ok(c.register(k.aor(ph), [ct(ph, 5101)], expires=600))
        add(k, op, ct(op, 5102), 600)
    assert k.count() == (2, 3)


def test_add_that_evicts_in_a_full_table_is_accepted_as_a_register_is(
        kamailio_factory, user):
    """max_bindings=4, max_contacts=2, evict_oldest: in a full table a new
    contact of an AoR at max_contacts replaces its oldest binding, so the
    table does not grow: accepted by REGISTER and by aor.add alike."""
    k = kamailio_factory(modparams={"max_bindings": 4, "max_contacts": 2,
                                    "max_contacts_policy": "evict_oldest"})
    ph, op = user + "ph", user + "op"
    with k.client() as c:
        for port in (5101, 5102):
            assert_ok(c.register(k.aor(ph), [ct(ph, port)], expires=300))
            add(k, op, ct(op, port), 300)
        assert k.count() == (2, 4)
        assert_ok(c.register(k.aor(ph), [ct(ph, 5103)], expires=300))
        add(k, op, ct(op, 5103), 300)
        assert_bindings(c, k.aor(ph), [ct(ph, 5102), ct(ph, 5103)])
        assert_bindings(c, k.aor(op), [ct(op, 5102), ct(op, 5103)])
    assert k.count() == (2, 4)


# -- binding identity, permanent bindings -------------------------------------

def test_register_of_a_contact_made_by_add_updates_that_binding(
        kamailio_factory, user):
    """RFC 3261 10.3 step 7: a binding is its contact URI, whoever made it.
    A phone's REGISTER (its own Call-ID) of the contact an operator added
    updates that binding, keeping its ruid; an aor.add of the contact a
    phone registered does the same."""
    k = kamailio_factory()
    op, ph = user + "op", user + "ph"
    r1 = add(k, op, ct(op, 5101), 300)
    with k.client() as c:
        cid = sip.token(12) + "@phone"
        assert_ok(c.register(k.aor(op), [ct(op, 5101)], expires=600,
                             call_id=cid))
        b = shown(k, op)
        assert list(b) == [ct(op, 5101)]
        assert b[ct(op, 5101)]["ruid"] == r1
        assert b[ct(op, 5101)]["callid"] == cid
        assert int(b[ct(op, 5101)]["expires"]) > 500

        assert_ok(c.register(k.aor(ph), [ct(ph, 5102)], expires=300))
        r2 = shown(k, ph)[ct(ph, 5102)]["ruid"]
    assert add(k, ph, ct(ph, 5102), 900) == r2
    b = shown(k, ph)
    assert list(b) == [ct(ph, 5102)] and b[ct(ph, 5102)]["ruid"] == r2
    assert int(b[ct(ph, 5102)]["expires"]) > 800
    assert k.count() == (2, 2)


def test_add_with_expires_0_is_permanent_through_an_expiry_pass(
        kamailio_factory, user):
    """aor.add ... 0 stores a permanent binding (aor.show: expires 0); when
    the timer removes a 1 s binding of the same AoR (expired_bindings goes
    up), the permanent one stays, still with expires 0."""
    k = kamailio_factory(modparams={"min_expires": 1, "timer_interval": 1})
    add(k, user, ct(user, 5101), 0)
    assert int(shown(k, user)[ct(user, 5101)]["expires"]) == 0
    e0 = stats(k)["expired_bindings"]
    with k.client() as c:
        assert_ok(c.register(k.aor(user), [ct(user, 5102)], expires=1))
        assert sorted(shown(k, user)) == [ct(user, 5101), ct(user, 5102)]
        assert sip.wait_until(
            lambda: stats(k)["expired_bindings"] > e0, 10), \
            "the 1 s binding did not expire in 10 s"
        b = shown(k, user)
        assert list(b) == [ct(user, 5101)]
        assert int(b[ct(user, 5101)]["expires"]) == 0
        assert_bindings(c, k.aor(user), [ct(user, 5101)])
    assert k.count() == (1, 1)
