"""Shared memory exhaustion: Kamailio with a small -m, registered full.

Kamailio runs with -m 4 (4 MB of shared memory; with these settings
Kamailio 5.6 needs about 2.7 MB itself and starts with -m 3). A flood of
REGISTERs, each adding a binding with a long Contact, runs until the
module refuses one, bounded in count and time. Then:
  - every further new binding gets 503 with Retry-After and
    P-Registrar-Error (RFC 3261 21.5.4), counted in rejected_no_memory;
  - bindings made before keep working: a query REGISTER lists them,
    `aor.show` shows them, a refresh is accepted;
  - Kamailio keeps answering OPTIONS and kamcmd;
  - after some AoRs are removed (aor.rm), new bindings are accepted again.
With the default shm_reserve (10 % of -m) the module stops short of the
last bytes, so INVITEs to registered users still get transactions and
reach them; with shm_reserve=0 the module takes shared memory to the end,
and Kamailio survives that too.
"""

import re
import time

import pytest

import sip
from checks import assert_alive, assert_error, assert_ok

SHM_MB = 4
FLOOD_MAX = 20000      # REGISTERs at most (each ~1 KB of shm)
FLOOD_SECONDS = 30
PAD = "x" * 400        # a long Contact fills memory in fewer requests
KEEP = 3


def stat(kam, name):
    out = kam.kamcmd("stats.get_statistics", name)
    return int(re.search(r"aor:%s = (-?\d+)" % name, out).group(1))


def flood(kam, c, prefix):
    """REGISTER new AoRs until one is refused; (accepted names, refusal)."""
    accepted = []
    deadline = time.monotonic() + FLOOD_SECONDS
    for i in range(FLOOD_MAX):
        u = "%s%05d" % (prefix, i)
        r = c.register("sip:%s@127.0.0.1" % u,
                       ["sip:%s@127.0.0.1:5999;pad=%s" % (u, PAD)],
                       expires=3600)
        if r.status != 200:
            return accepted, r
        accepted.append(u)
        if time.monotonic() > deadline:
            break
    pytest.fail("no REGISTER refused after %d bindings" % len(accepted))


def start(kamailio_factory, **modparams):
    return kamailio_factory(children=2, modparams=modparams,
                            args=["-m", str(SHM_MB)])


@pytest.mark.parametrize("reserve", [None, 0])
def test_register_beyond_shm_is_503_and_bindings_keep_working(
        kamailio_factory, uas_factory, user, reserve):
    kam = start(kamailio_factory,
                **({} if reserve is None else {"shm_reserve": reserve}))
    uas = uas_factory()
    keep = ["%sk%d" % (user, i) for i in range(KEEP)]
    with kam.client() as c:
        for u in keep:
            assert_ok(c.register(kam.aor(u), [uas.contact(u)], expires=3600))

        accepted, refused = flood(kam, c, user + "f")
        assert len(accepted) > 100, "refused too early: %s" % refused.raw
        assert_error(refused, 503)
        assert stat(kam, "rejected_no_memory") == 1
        # still full: the next new bindings are refused the same way
        for i in range(5):
            r = c.register(kam.aor("%sg%d" % (user, i)),
                           ["sip:g%d@127.0.0.1:5999;pad=%s" % (i, PAD)])
            assert_error(r, 503)
        assert kam.count() == (KEEP + len(accepted), KEEP + len(accepted))

        # what was registered before stays, and can be refreshed
        for u in keep:
            got = c.query(kam.aor(u))
            assert_ok(got)
            assert got.contact_uris() == [uas.contact(u)]
            assert [b["contact"] for b in kam.show(u)] == [uas.contact(u)]
        assert_ok(c.register(kam.aor(keep[0]), [uas.contact(keep[0])],
                             expires=1800))
        assert_alive(kam)
        if reserve is None:
            # the reserve left room for transactions: lookup() and t_relay
            for u in keep:
                assert c.invite(kam.ruri(u)).status == 200
            assert len(uas.received("INVITE")) == KEEP

        # room again: remove a tenth of the flood, then register anew
        for u in accepted[:len(accepted) // 10]:
            kam.kamcmd("aor.rm", u)
        again = "%sagain" % user

        def accepted_again():
            r = c.register(kam.aor(again), [uas.contact(again)])
            return r.status == 200
        assert sip.wait_until(accepted_again, 10, interval=0.5), \
            "no new binding accepted after aor.rm"
        assert [b["contact"] for b in kam.show(again)] == [uas.contact(again)]
    assert_alive(kam)
    print("shm -m %d, shm_reserve %s: %d bindings accepted before the "
          "first 503" % (SHM_MB, "default" if reserve is None else reserve,
                         KEEP + len(accepted)))
