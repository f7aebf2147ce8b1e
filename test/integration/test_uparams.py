"""Stock usrloc's parameters desc_time_order, cseq_delay, matching_mode,
skip_remote_socket, xavp_contact, expires_type and rm_expired_delay, each
through real Kamailio and SIP, stock registrar+usrloc the oracle in the same
test (stock defaults)."""

import time

import pytest

import oracle
import sip
from checks import assert_ok
from test_lookup import ROUTE, invite
from test_snapshot import show_by_contact, snapshot_params


def pair(factory, **params):
    """stock and aor with stock's defaults and params."""
    return oracle.start(factory, stock_defaults=True, modparams=params,
                        route=ROUTE)


def first_of_two(k, uas_factory, user, q_old="", q_new=""):
    """old registers, then new (equal q unless given); the R-URI lookup()
    chose: "old" or "new"."""
    old, new = uas_factory(code=486), uas_factory(code=486)
    aor = k.aor(user)
    with k.client() as c:
        assert_ok(c.register(aor, ["<%s>%s" % (old.contact(user), q_old)],
                             expires=300))
    time.sleep(1.1)  # another second: desc_time_order orders by time
    with k.client() as c:
        assert_ok(c.register(aor, ["<%s>%s" % (new.contact(user), q_new)],
                             expires=300))
    invite(k, user)
    got = new.wait_for("INVITE")
    assert got is not None and old.wait_for("INVITE") is not None
    ruri = got.get("X-Lookup-Ruri")
    return {old.contact(user): "old", new.contact(user): "new"}.get(ruri)


@pytest.mark.parametrize("order", [0, 1])
def test_desc_time_order_equal_q_as_stock(kamailio_factory, uas_factory,
                                          user, order):
    """desc_time_order 0 (default): equal q in the order registered, the
    first the R-URI; 1: the last registered first."""
    got = oracle.each(pair(kamailio_factory, desc_time_order=order),
                      lambda k: first_of_two(k, uas_factory, user))
    want = "old" if order == 0 else "new"
    assert got["stock"] == got["aor"] == want, got


def test_desc_time_order_default_is_stocks(kamailio_factory, uas_factory,
                                           user):
    """Without the modparam, the order is stock's default."""
    got = oracle.each(pair(kamailio_factory),
                      lambda k: first_of_two(k, uas_factory, user))
    assert got["stock"] == got["aor"], got


def test_desc_time_order_1_ignores_q_as_stock(kamailio_factory, uas_factory,
                                              user):
    """desc_time_order 1: the last registered is first even with a lower
    q (stock usrloc update_contact_pos / mem_insert_ucontact)."""
    got = oracle.each(pair(kamailio_factory, desc_time_order=1),
                      lambda k: first_of_two(k, uas_factory, user, ";q=1.0",
                                             ";q=0.5"))
    assert got["stock"] == got["aor"], got


def _again_after(k, user, wait):
    """A REGISTER, then the same bytes after wait seconds: both statuses."""
    with k.client() as c:
        hdrs = [("Contact", "<sip:%s@127.0.0.1:5101>" % user),
                ("Expires", "300")]
        data, cid, cs = c.request("REGISTER", "sip:127.0.0.1:%d" % k.port,
                                  k.aor(user), call_id=sip.token(16), cseq=7,
                                  headers=hdrs, branch=sip.new_branch())
        r1 = c.transact(data, cid, cs)
        time.sleep(wait)
        return r1.status, c.transact(data, cid, cs).status


@pytest.mark.parametrize("delay,wait", [(1, 2.2), (5, 0.5), (0, 0)])
def test_cseq_delay_window_as_stock(kamailio_factory, user, delay, wait):
    """cseq_delay: the same Call-ID and CSeq within it is a retransmission
    (200); after it, RFC 3261 10.3 step 7 refuses the request."""
    got = oracle.each(pair(kamailio_factory, cseq_delay=delay),
                      lambda k: _again_after(k, user, wait))
    assert got["stock"] == got["aor"], got
    assert got["aor"][1] == (200 if wait < delay else 400), got


def _two_call_ids(k, user):
    """The same Contact from two Call-IDs: the URIs of the second 200."""
    aor = k.aor(user)
    ct = "sip:%s@127.0.0.1:5102" % user
    with k.client() as c:
        assert_ok(c.register(aor, [ct], expires=300))
    with k.client() as c:
        r = c.register(aor, [ct], expires=300)
    assert_ok(r)
    return sorted(r.contact_uris())


@pytest.mark.parametrize("mode", [0, 1, 3])
def test_matching_mode_as_stock(kamailio_factory, user, mode):
    """matching_mode 1: the same URI under another Call-ID is another
    binding; 0 and 3 (Call-ID only, a new Call-ID: new binding too)."""
    got = oracle.each(pair(kamailio_factory, matching_mode=mode),
                      lambda k: _two_call_ids(k, user))
    assert got["stock"] == got["aor"], got
    assert len(got["aor"]) == (1 if mode == 0 else 2)


def test_accepted_params_start_and_register_as_stock(kamailio_factory, user):
    """xavp_contact, expires_type, skip_remote_socket and rm_expired_delay
    (0: stock refuses another value outside db_mode 3) are accepted, and
    REGISTER and lookup work as in stock."""
    def run(k, c):
        r = c.register(k.aor(user), ["sip:%s@127.0.0.1:5103" % user],
                       expires=300)
        return r.status, r.contact_uris()
    got = oracle.both(pair(kamailio_factory, xavp_contact="ulattrs",
                           expires_type=1, skip_remote_socket=1,
                           rm_expired_delay=0), run)
    assert got["stock"] == got["aor"] and got["aor"][0] == 200, got


@pytest.mark.parametrize("skip", [0, 1])
def test_skip_remote_socket_at_snapshot_load(kamailio_factory, tmp_path,
                                             skip):
    """skip_remote_socket 1: a binding of the snapshot received on a socket
    not listened on now is dropped at start-up (stock: at the database
    load, udomain.c); 0 keeps it. aor only: stock has no snapshot."""
    path = str(tmp_path / "snap.xml")
    k = kamailio_factory(modparams=snapshot_params(path))
    with k.client() as c:
        assert_ok(c.register(k.aor("remsock"),
                             ["sip:remsock@127.0.0.1:30998"], expires=600))
    k.stop()
    k2 = kamailio_factory(modparams=snapshot_params(
        path, skip_remote_socket=skip))
    assert k2.port != k.port
    have = "sip:remsock@127.0.0.1:30998" in show_by_contact(k2, "remsock")
    assert have == (skip == 0)
