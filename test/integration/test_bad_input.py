"""Malformed and hostile REGISTERs: a 4xx (or a silent drop by Kamailio's
parser), never a crash, never a change to other bindings.

A sentinel AoR with two bindings is registered once; after every test the
server must still answer OPTIONS and RPC, and the sentinel must be intact.
"""

import pytest

import sip
from checks import assert_alive, assert_bindings, assert_error, assert_ok

KAM_OPTIONS = {"modparams": {"max_contacts": 0}}


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


@pytest.fixture(scope="module")
def sentinel(kam):
    aor = kam.aor("sentinel")
    uris = [ct("sentinel", 5001), ct("sentinel", 5002)]
    with kam.client() as c:
        assert_ok(c.register(aor, uris, expires=3600))
    return aor, uris


@pytest.fixture(autouse=True)
def intact(kam, sentinel):
    """After each test: alive, and the sentinel's bindings unchanged."""
    yield
    assert_alive(kam)
    with kam.client() as c:
        assert_bindings(c, sentinel[0], sentinel[1])


def reply_or_drop(client, data, call_id, timeout=1.5):
    """The final reply to data, or None when Kamailio dropped it."""
    client.send_raw(data)
    try:
        return client.final_reply(call_id, timeout=timeout)
    except sip.Timeout:
        return None


def assert_4xx_or_dropped(r):
    if r is not None:
        assert 400 <= r.status < 500, r.raw


def assert_no_5xx_but_503(r):
    assert r.status < 500 or r.status == 503, r.raw
    if r.status >= 300:
        assert_error(r)


@pytest.mark.parametrize("contact", [
    "<sip:%s@127.0.0.1:5101",
    "<sip:%s@127.0.0.1:notaport>",
    "<sip:%s@>",
    "<sip:%s@127.0.0.1:5101>;;;=",
], ids=["unterminated", "bad-port", "no-host", "bad-params"])
def test_unparsable_contact_is_400(kam, client, user, contact):
    """RFC 3261 21.4.1: a malformed Contact is a 400; nothing is stored."""
    aor = kam.aor(user)
    r = client.register(aor, [contact % user], expires=300)
    assert_error(r, 400)
    assert_bindings(client, aor, [])


def assert_refused_or_rfc_value(client, aor, uri, r, rfc_values):
    """r is a 4xx with nothing stored, or a 200 that granted one of
    rfc_values (RFC 3261 20.10 / 20.19: values above 2**32-1 MAY be treated
    as 2**32-1, malformed values SHOULD be treated as 3600), and that value
    is what is stored."""
    if r.status != 200:
        assert_error(r, lo=400, hi=499)
        assert_bindings(client, aor, [])
        return
    assert r.contact(uri) is not None, r.raw
    granted = r.contact(uri).expires
    assert any(v - 1 <= granted <= v for v in rfc_values), r.raw
    stored = assert_bindings(client, aor, [uri])[uri].expires
    assert abs(stored - granted) <= 1


@pytest.mark.parametrize("expires,rfc_values", [
    ("4294967296", (4294967295, 3600)),
    ("99999999999999999999", (4294967295, 3600)),
    ("-1", (3600,)),
    ("soon", (3600,)),
], ids=["2^32", "huge", "negative", "word"])
def test_out_of_range_expires_header_is_4xx(kam, client, user, expires,
                                            rfc_values):
    """Expires is delta-seconds, 0..2**32-1 (RFC 3261 20.19): out of range
    or malformed values get a 4xx (or the RFC's fallback value), never a
    5xx; nothing else changes."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=expires)
    assert_refused_or_rfc_value(client, aor, ct(user, 5101), r, rfc_values)


@pytest.mark.parametrize("expires,rfc_values", [
    ("4294967296", (4294967295, 3600)),
    ("-1", (3600,)),
    ("", (3600,)),
], ids=["2^32", "negative", "empty"])
def test_out_of_range_contact_expires_param_is_4xx(kam, client, user, expires,
                                                   rfc_values):
    """The same bounds apply to the Contact expires parameter (RFC 3261
    20.10)."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;expires=%s" % (ct(user, 5101), expires)])
    assert_refused_or_rfc_value(client, aor, ct(user, 5101), r, rfc_values)


@pytest.mark.parametrize("q", ["5", "1.0001", "-0.5", "abc"])
def test_q_out_of_range_or_malformed_is_400(kam, client, user, q):
    """RFC 3261 25.1: qvalue = ("0" [ "." 0*3DIGIT ]) / ("1" [ "." 0*3("0") ])."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;q=%s" % (ct(user, 5101), q)], expires=300)
    assert_error(r, 400)
    assert_bindings(client, aor, [])


def test_two_kilobyte_contact_uri_is_handled(kam, client, user):
    """A 2 KB contact URI is either stored whole or refused with a 4xx
    (or 503); never a 5xx error or a crash."""
    aor = kam.aor(user)
    uri = "sip:%s@127.0.0.1:5101;x=%s" % (user, "a" * 2048)
    r = client.register(aor, ["<%s>" % uri], expires=300)
    assert_no_5xx_but_503(r)
    if r.status == 200:
        assert_bindings(client, aor, [uri])
    else:
        assert_bindings(client, aor, [])


def test_hundred_contacts_in_one_register_is_handled(kam, client, user):
    """100 contacts in one REGISTER (max_contacts=0): all stored, or a 4xx
    / 503 with nothing stored."""
    aor = kam.aor(user)
    uris = [ct(user, 6000 + i) for i in range(100)]
    r = client.register(aor, ["<%s>" % u for u in uris], expires=300)
    assert_no_5xx_but_503(r)
    if r.status == 200:
        assert_bindings(client, aor, uris)
    else:
        assert_bindings(client, aor, [])


@pytest.mark.parametrize("header", ["To", "Call-ID", "CSeq", "From"])
def test_missing_mandatory_header_is_4xx_or_dropped(kam, client, user, header):
    """RFC 3261 8.1.1: To, From, Call-ID, CSeq are mandatory; without one the
    request gets a 4xx or is dropped by the parser."""
    data, cid, _ = client.request(
        "REGISTER", "sip:127.0.0.1:%d" % kam.port, kam.aor(user),
        headers=[("Contact", "<%s>" % ct(user, 5101)), ("Expires", "300")],
        override={header: None})
    assert_4xx_or_dropped(reply_or_drop(client, data, cid))
    assert_bindings(client, kam.aor(user), [])


@pytest.mark.parametrize("header,value", [
    ("To", "garbage"),
    ("To", "<>"),
    ("CSeq", "99999999999 REGISTER"),
    ("CSeq", "abc REGISTER"),
], ids=["to-garbage", "to-empty", "cseq-overflow", "cseq-nan"])
def test_malformed_header_is_4xx_or_dropped(kam, client, user, header, value):
    """A malformed To or CSeq gets a 4xx or is dropped; nothing is stored
    for the AoR."""
    data, cid, _ = client.request(
        "REGISTER", "sip:127.0.0.1:%d" % kam.port, kam.aor(user),
        headers=[("Contact", "<%s>" % ct(user, 5101)), ("Expires", "300")],
        override={header: value})
    assert_4xx_or_dropped(reply_or_drop(client, data, cid))
    assert_bindings(client, kam.aor(user), [])


def test_garbage_datagrams_are_ignored(kam, client):
    """Non-SIP datagrams do not disturb the server."""
    for blob in (b"\x00" * 64, b"\xff\xfe" * 500, b"REGISTER\r\n\r\n",
                 b"SIP/2.0 200 OK\r\n\r\n", b"REGISTER sip:x SIP/2.0\r\n" * 50):
        client.send_raw(blob)
    # assert_alive (autouse fixture) checks the verdict.


def test_contact_star_with_params_is_400(kam, client, user):
    """RFC 3261 10.3 step 6: '*' with Expires 0 is valid only alone; a second
    Contact header with '*' is invalid too."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    assert_error(client.register(aor, ["*", "*"], expires=0), 400)
    assert_bindings(client, aor, [ct(user, 5101)])
