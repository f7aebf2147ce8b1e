"""save() is a UAS: the checks RFC 3261 8.2 asks of every UAS for the
REGISTER it answers (8.2.1 method, 8.2.2.1 Request-URI scheme, 8.2.2.3
Require, 8.2.3 body), each with the reply and headers 8.2 names. Stock
registrar+usrloc runs beside aor as the oracle: where stock does the same,
the replies are compared; where stock skips a check the RFC demands, the
docstring names the clause."""

import pytest

import sip
from checks import assert_bindings, assert_error, assert_ok
from test_stats import stats

PARAMS = {"use_path": 1, "min_expires_mode": 0, "case_sensitive": 1,
          "nat_source": 0}


@pytest.fixture(scope="module")
def pair(module_kamailio):
    """(aor, stock), both with use_path=1."""
    return (module_kamailio(impl="aor", modparams=PARAMS),
            module_kamailio(impl="stock", modparams=PARAMS))


@pytest.fixture(scope="module")
def nopath(module_kamailio):
    """(aor, stock) with use_path=0."""
    p = dict(PARAMS, use_path=0)
    return (module_kamailio(impl="aor", modparams=p),
            module_kamailio(impl="stock", modparams=p))


def ct(user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def register(k, user, headers=(), body="", method="REGISTER", port=5101):
    """One REGISTER (or method) for user binding ct(user, port), with extra
    headers and a body; returns the final reply."""
    with k.client() as c:
        hdrs = [("Contact", "<%s>" % ct(user, port)), ("Expires", "300")]
        data, cid, cs = c.request(method, "sip:127.0.0.1:%d" % k.port,
                                  k.aor(user), call_id=sip.token(16),
                                  headers=hdrs + list(headers), body=body)
        return c.transact(data, cid, cs)


def bound(k, user):
    with k.client() as c:
        return sorted(c.query(k.aor(user)).contact_uris())


def tags(reply, name="Unsupported"):
    return sorted(t.lower() for t in reply.get_all(name))


# -- 8.2.2.3 Require -----------------------------------------------------------

def test_require_outbound_is_420_with_unsupported_as_stock(pair, user):
    """RFC 3261 8.2.2.3: 'Require: outbound' (RFC 5626), which neither
    registrar implements (stock's outbound_mode 0), is a 420 Bad Extension
    with 'Unsupported: outbound'; nothing is bound."""
    a, s = pair
    ra = register(a, user, [("Require", "outbound")])
    rs = register(s, user, [("Require", "outbound")])
    assert (ra.status, tags(ra)) == (rs.status, tags(rs)) == \
        (420, ["outbound"]), (ra.raw, rs.raw)
    assert_error(ra, 420)
    assert bound(a, user) == bound(s, user) == []


def test_require_path_with_use_path_is_accepted_as_stock(pair, user):
    """RFC 3327 4, RFC 3261 8.2.2.3: with use_path the registrar supports
    path, so 'Require: path' (in any case: RFC 3261 7.3.1, tokens compare
    case-insensitively) is accepted, as stock accepts it."""
    a, s = pair
    for k in (a, s):
        r = register(k, user, [("Supported", "path"), ("Require", "Path"),
                               ("Path", "<sip:edge@127.0.0.1:5199;lr>")])
        assert_ok(r)
    assert bound(a, user) == bound(s, user) == [ct(user, 5101)]


def test_require_unknown_tags_are_420_listing_each(pair, user):
    """RFC 3261 8.2.2.3: every option tag of every Require header that the
    registrar does not understand is listed in Unsupported (path, which it
    supports, is not); nothing is bound. Stock checks only outbound and
    binds (200): a MUST of 8.2.2.3 it skips."""
    a, s = pair
    hdrs = [("Supported", "path"), ("Require", "foo, path"),
            ("Require", " 100rel ,x.y-z")]
    r = register(a, user, hdrs)
    assert_error(r, 420)
    assert r.reason == "Bad Extension", r.raw
    assert tags(r) == ["100rel", "foo", "x.y-z"], r.raw
    assert bound(a, user) == []
    assert register(s, user, hdrs).status == 200


def test_require_path_without_use_path_is_420(nopath, user):
    """RFC 3261 8.2.2.3: with use_path=0 the registrar does not support
    path (it neither stores nor uses Path), so 'Require: path' is a 420
    with 'Unsupported: path'. Stock ignores the tag and binds (200)."""
    a, s = nopath
    r = register(a, user, [("Require", "path")])
    assert_error(r, 420)
    assert tags(r) == ["path"], r.raw
    assert bound(a, user) == []
    assert register(s, user, [("Require", "path")]).status == 200


def test_require_that_is_not_a_token_list_is_400(pair, user):
    """RFC 3261 20.32 / 25.1: Require is a comma list of tokens; one that
    is not cannot be understood nor echoed in Unsupported: 400."""
    a, _ = pair
    r = register(a, user, [("Require", "foo bar")])
    assert_error(r, 400)
    assert bound(a, user) == []


def test_unsupported_refusals_are_counted(pair, user):
    """The 8.2 refusals count in rejected_regs and rejected_unsupported."""
    a, _ = pair
    s0 = stats(a)
    assert register(a, user, [("Require", "foo")]).status == 420
    assert register(a, user, body="x", headers=[
        ("Content-Type", "text/plain")]).status == 415
    s1 = stats(a)
    assert s1["rejected_unsupported"] - s0["rejected_unsupported"] == 2
    assert s1["rejected_regs"] - s0["rejected_regs"] == 2
    assert s1["rejected_bad_request"] == s0["rejected_bad_request"]


# -- 8.2.3 Content processing --------------------------------------------------

def test_body_is_415_with_empty_accept(pair, user):
    """RFC 3261 8.2.3: a registrar understands no body type (10.3 defines
    none for REGISTER); a body not marked optional (20.11: handling
    defaults to required) is a 415 with an Accept header listing the types
    understood: none (20.1: an empty Accept). Nothing is bound. Stock
    ignores the body and binds (200)."""
    a, s = pair
    hdrs = [("Content-Type", "text/plain")]
    r = register(a, user, hdrs, body="hello")
    assert_error(r, 415)
    assert r.reason == "Unsupported Media Type", r.raw
    assert r.get("Accept") == "", r.raw
    assert not r.has("Accept-Encoding") and not r.has("Accept-Language")
    assert bound(a, user) == []
    assert register(s, user, hdrs, body="hello").status == 200


def test_body_coding_and_language_get_accept_encoding_and_language(pair,
                                                                   user):
    """RFC 3261 8.2.3: with a Content-Encoding the 415 carries
    Accept-Encoding (20.2: identity only), with a Content-Language an
    Accept-Language (none understood)."""
    a, _ = pair
    r = register(a, user, [("Content-Type", "text/plain"),
                           ("Content-Encoding", "gzip"),
                           ("Content-Language", "fr")], body="bonjour")
    assert_error(r, 415)
    assert r.get("Accept") == "", r.raw
    assert r.get("Accept-Encoding") == "identity", r.raw
    assert r.get("Accept-Language") == "", r.raw
    assert bound(a, user) == []


def test_optional_body_is_ignored_as_stock(pair, user):
    """RFC 3261 8.2.3, 20.11: a body with 'Content-Disposition: ...;
    handling=optional' may be ignored: the REGISTER is processed (200), as
    stock processes it."""
    a, s = pair
    hdrs = [("Content-Type", "text/plain"),
            ("Content-Disposition", "render;handling=optional")]
    for k in (a, s):
        assert_ok(register(k, user, hdrs, body="hello"))
    assert bound(a, user) == bound(s, user) == [ct(user, 5101)]


def test_content_type_without_body_is_accepted_as_stock(pair, user):
    """RFC 3261 8.2.3 is about bodies: a Content-Type with Content-Length 0
    (some phones send one) is no body, and the REGISTER is processed."""
    a, s = pair
    hdrs = [("Content-Type", "application/sdp")]
    for k in (a, s):
        assert_ok(register(k, user, hdrs))
    assert bound(a, user) == bound(s, user) == [ct(user, 5101)]


# -- 8.2.1 Method, 8.2.2.1 Request-URI --------------------------------------

SAVE_ANY = """
    if(is_method("PUBLISH")) {
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
    }
    sl_send_reply("404", "Not here");
"""


def test_save_of_another_method_is_405_with_allow(kamailio_factory, user):
    """RFC 3261 8.2.1: save() is a registrar, which supports REGISTER only:
    a script that calls it for another method gets a 405 with
    'Allow: REGISTER', and nothing is bound. Stock binds the Contact of
    whatever request it is given."""
    k = kamailio_factory(modparams=PARAMS, route=SAVE_ANY)
    r = register(k, user, method="PUBLISH")
    assert_error(r, 405)
    assert r.get_all("Allow") == ["REGISTER"], r.raw
    assert bound(k, user) == []


def test_request_uri_scheme_is_416(pair, user):
    """RFC 3261 8.2.2.1: a Request-URI scheme the registrar does not know
    (tel:) is a 416 Unsupported URI Scheme, and nothing is bound. Stock
    binds (200): it never looks at the Request-URI's scheme."""
    a, s = pair
    got = []
    for k in (a, s):
        with k.client() as c:
            r = c.register(k.aor(user), ["<%s>" % ct(user, 5101)],
                           expires=300, ruri="tel:+15551234")
        got.append(r)
    assert_error(got[0], 416)
    assert bound(a, user) == []
    assert got[1].status == 200, got[1].raw


# -- 8.2.2.2 merged requests, 8.2.7 / 17.2.2 retransmissions --------------------

def _twice(k, user, other_branch):
    """A REGISTER, then the same bytes again (a retransmission) or with
    another Via branch (a merged copy: another path, 8.2.2.2). Returns the
    two final replies."""
    with k.client() as c:
        hdrs = [("Contact", "<%s>" % ct(user, 5101)), ("Expires", "300")]
        br = sip.new_branch()
        data, cid, cs = c.request("REGISTER", "sip:127.0.0.1:%d" % k.port,
                                  k.aor(user), call_id=sip.token(16), cseq=7,
                                  headers=hdrs, branch=br)
        r1 = c.transact(data, cid, cs)
        if other_branch:
            data = data.replace(br.encode(), sip.new_branch().encode())
        return r1, c.transact(data, cid, cs)


def test_retransmission_gets_the_200_again_as_stock(pair, user):
    """RFC 3261 17.2.2: a server transaction answers a retransmitted
    REGISTER (its 200 lost, say) with the response it sent; save() over sl
    keeps no transaction (8.2.7), so it answers a REGISTER with the Call-ID
    and CSeq of a binding it made moments ago with the current bindings
    (200), changing nothing, instead of failing it by 10.3 step 7. Stock
    does the same (usrloc's cseq_delay)."""
    a, s = pair
    for k in (a, s):
        r1, r2 = _twice(k, user, other_branch=False)
        assert (r1.status, r2.status) == (200, 200), (k.impl, r2.raw)
        assert r2.contact_uris() == r1.contact_uris() == [ct(user, 5101)]
    assert bound(a, user) == bound(s, user) == [ct(user, 5101)]


TM_REGISTER = """
        if(!t_newtran()) {
            sl_reply_error();
            exit;
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""


def test_merged_request_in_a_transaction_is_482(kamailio_factory, user):
    """RFC 3261 8.2.2.2: with a tm transaction (t_newtran() before save()),
    tm answers retransmissions itself, so a second REGISTER with the same
    Call-ID and CSeq but another branch is the same request come by another
    path: 482 Loop Detected, nothing changed. A retransmission (same
    branch) still gets tm's 200. Stock binds the merged copy again (200)."""
    k = kamailio_factory(modparams=PARAMS, register=TM_REGISTER)
    r1, r2 = _twice(k, user, other_branch=True)
    assert r1.status == 200, r1.raw
    assert_error(r2, 482)
    assert bound(k, user) == [ct(user, 5101)]
    r1, r2 = _twice(k, user + "b", other_branch=False)
    assert (r1.status, r2.status) == (200, 200), r2.raw
    s = kamailio_factory(impl="stock", modparams=PARAMS, register=TM_REGISTER)
    assert _twice(s, user, other_branch=True)[1].status == 200


def test_same_call_id_and_lower_cseq_is_still_400(pair, user):
    """RFC 3261 10.3 step 7: a CSeq below the stored one for the same
    Call-ID is no retransmission: the request fails (400), as in stock."""
    a, s = pair
    for k in (a, s):
        with k.client() as c:
            assert_ok(c.register(k.aor(user), [ct(user, 5101)], expires=300,
                                 call_id="cid-" + user, cseq=9))
            r = c.register(k.aor(user), [ct(user, 5101)], expires=300,
                           call_id="cid-" + user, cseq=8)
            assert r.status == 400, (k.impl, r.raw)
