"""Limits: max_contacts and its policies, max_bindings, min_expires_mode.

The main instance uses max_contacts=2 with the default policy ("reject")
and retry_after=30. Other settings get their own module-scoped instance.
"""

import pytest

from checks import assert_bindings, assert_error, assert_ok

KAM_OPTIONS = {"modparams": {"max_contacts": 2, "retry_after": 30}}


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


# -- max_contacts, policy "reject" ---------------------------------------------

def test_contact_over_max_contacts_is_503_and_keeps_bindings(kam, client,
                                                             user):
    """max_contacts_policy=reject: one binding too many answers 503 with
    Retry-After (retry_after=30) and P-Registrar-Error; the existing
    bindings stay as they were."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    with kam.client() as c:
        r = c.register(aor, [ct(user, 5103)], expires=600)
    assert_error(r, 503)
    assert r.get("Retry-After") == "30", r.raw
    got = assert_bindings(client, aor, [ct(user, 5101), ct(user, 5102)])
    assert all(c.expires <= 300 for c in got.values())


def test_refresh_at_max_contacts_is_accepted(kam, client, user):
    """A refresh of an existing binding adds nothing: 200 at the limit."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    r = client.register(aor, [ct(user, 5101)], expires=900)
    assert_ok(r)
    got = assert_bindings(client, aor, [ct(user, 5101), ct(user, 5102)])
    assert got[ct(user, 5101)].expires >= 898


def test_too_many_contacts_in_one_request_store_nothing(kam, client, user):
    """A request that would exceed max_contacts is rejected whole
    (RFC 3261 10.3: nothing is half-applied)."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, p) for p in (5101, 5102, 5103)],
                        expires=300)
    assert_error(r, 503)
    assert_bindings(client, aor, [])


def test_limit_applies_to_the_result_of_the_request(kam, client, user):
    """Removing one binding and adding another in one REGISTER stays within
    max_contacts and is accepted."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    r = client.register(aor, ["<%s>;expires=0" % ct(user, 5101),
                              "<%s>" % ct(user, 5103)], expires=300)
    assert_ok(r)
    assert_bindings(client, aor, [ct(user, 5102), ct(user, 5103)])


# -- max_contacts, policies that evict ------------------------------------------

@pytest.fixture(scope="module")
def kam_evict_oldest(module_kamailio):
    return module_kamailio(modparams={
        "max_contacts": 2, "max_contacts_policy": "evict_oldest"})


@pytest.fixture(scope="module")
def kam_evict_expiring(module_kamailio):
    return module_kamailio(modparams={
        "max_contacts": 2, "max_contacts_policy": "evict_expiring"})


def test_evict_oldest_keeps_the_newest_bindings(kam_evict_oldest, user):
    """max_contacts_policy=evict_oldest: a new binding over the limit
    replaces the least recently registered one; the reply is 200."""
    kam = kam_evict_oldest
    aor = kam.aor(user)
    for port in (5101, 5102, 5103):
        with kam.client() as c:
            r = c.register(aor, [ct(user, port)], expires=300)
            assert_ok(r)
    assert sorted(r.contact_uris()) == [ct(user, 5102), ct(user, 5103)], r.raw
    with kam.client() as c:
        assert_bindings(c, aor, [ct(user, 5102), ct(user, 5103)])


def test_evict_expiring_drops_the_binding_closest_to_expiry(
        kam_evict_expiring, user):
    """max_contacts_policy=evict_expiring: the binding that expires first
    makes room."""
    kam = kam_evict_expiring
    aor = kam.aor(user)
    with kam.client() as c:
        assert_ok(c.register(aor, [ct(user, 5101)], expires=900))
    with kam.client() as c:
        assert_ok(c.register(aor, [ct(user, 5102)], expires=120))
    with kam.client() as c:
        assert_ok(c.register(aor, [ct(user, 5103)], expires=600))
        assert_bindings(c, aor, [ct(user, 5101), ct(user, 5103)])


# -- max_bindings: table-wide cap -------------------------------------------------

@pytest.fixture(scope="module")
def kam_max_bindings(module_kamailio):
    return module_kamailio(modparams={"max_bindings": 3})


def test_max_bindings_caps_the_table(kam_max_bindings, user):
    """max_bindings=3: a fourth binding anywhere in the table is refused
    with 503 + Retry-After; existing bindings can still refresh, and a
    removal makes room."""
    kam = kam_max_bindings
    with kam.client() as c:
        for i in range(3):
            assert_ok(c.register(kam.aor("%s%d" % (user, i)),
                                 [ct(user, 5101 + i)], expires=300))
        r = c.register(kam.aor(user + "3"), [ct(user, 5104)], expires=300)
        assert_error(r, 503)
        assert_bindings(c, kam.aor(user + "3"), [])
        assert_ok(c.register(kam.aor(user + "0"), [ct(user, 5101)],
                             expires=600))
        assert kam.count() == (3, 3)
        assert_ok(c.register(kam.aor(user + "0"), [ct(user, 5101)],
                             expires=0))
        assert_ok(c.register(kam.aor(user + "3"), [ct(user, 5104)],
                             expires=300))


# -- min_expires_mode=0 ----------------------------------------------------------

@pytest.fixture(scope="module")
def kam_raise_expires(module_kamailio):
    return module_kamailio(modparams={"min_expires": 60,
                                      "min_expires_mode": 0})


def test_min_expires_mode_0_raises_the_interval(kam_raise_expires, user):
    """min_expires_mode=0: an interval below min_expires is raised to it
    instead of a 423 (RFC 3261 10.3 step 6 lets the registrar choose)."""
    kam = kam_raise_expires
    with kam.client() as c:
        r = c.register(kam.aor(user), [ct(user, 5101)], expires=10)
        assert_ok(r)
        assert 59 <= r.contact(ct(user, 5101)).expires <= 60, r.raw


# -- a small table keeps working as it fills ------------------------------------

@pytest.fixture(scope="module")
def kam_small_table(module_kamailio):
    return module_kamailio(modparams={"hash_size": 1})


def test_small_hash_size_holds_many_aors(kam_small_table, user):
    """hash_size=1 (2 slots to start): 300 AoRs all stay reachable
    (DESIGN.md: the table grows by itself as it fills)."""
    kam = kam_small_table
    n = 300
    with kam.client() as c:
        for i in range(n):
            assert_ok(c.register(kam.aor("%s-%d" % (user, i)),
                                 [ct(user, 5000 + i)], expires=300))
        for i in range(0, n, 37):
            assert_bindings(c, kam.aor("%s-%d" % (user, i)),
                            [ct(user, 5000 + i)])
    assert kam.count() == (n, n)


# -- shared memory comes back -----------------------------------------------------

def shm_used(kam):
    from kam import parse_rpc, rpc_find
    return int(rpc_find(parse_rpc(kam.kamcmd("core.shmmem")), "real_used")[0])


def test_bindings_give_their_shared_memory_back(kamailio_factory, user):
    """Adding and removing bindings (by expires 0, '*' and refresh) many
    times leaves shm use where it was: every binding block and record is
    freed (DESIGN.md: one shm block per binding, record freed with its last
    binding)."""
    kam = kamailio_factory()

    def cycle(c, n):
        for i in range(n):
            aor = kam.aor("%s-%d" % (user, i % 50))
            assert_ok(c.register(aor, [ct(user, 5101), ct(user, 5102)],
                                 expires=300))
            assert_ok(c.register(aor, [ct(user, 5101)], expires=600))
            if i % 2:
                assert_ok(c.register(aor, [ct(user, 5101), ct(user, 5102)],
                                     expires=0))
            else:
                with kam.client() as other:
                    assert_ok(other.register(aor, ["*"], expires=0))
    with kam.client() as c:
        cycle(c, 200)
        before = shm_used(kam)
        cycle(c, 1000)
        after = shm_used(kam)
    assert kam.count() == (0, 0)
    assert after - before < 64 * 1024, "shm grew by %d bytes" % (after - before)
