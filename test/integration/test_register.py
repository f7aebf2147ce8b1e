"""save(): REGISTER processing, RFC 3261 section 10.3 and 19.1.4, RFC 3327.

One Kamailio for the module; every test uses its own AoR (the `user`
fixture). The REGISTER branch dispatches on an X-Save header to exercise
save()'s flags and uri argument.
"""

import time

import pytest

from checks import assert_bindings, assert_error, assert_ok, bindings

REGISTER = """
        if($hdr(X-Save) == "no-reply") {
            save("location", "0x02");
            sl_send_reply("299", "Custom");
            exit;
        }
        if($hdr(X-Save) == "single") {
            if(!save("location", "0x04")) {
                xlog("L_INFO", "save failed\\n");
            }
            exit;
        }
        if($hdr(X-Save) == "uri") {
            if(!save("location", "0", "$hdr(X-AoR)")) {
                xlog("L_INFO", "save failed\\n");
            }
            exit;
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""

KAM_OPTIONS = {
    "modparams": {"default_expires": 3600, "min_expires": 60,
                  "max_expires": 7200, "use_path": 1, "path_mode": 2},
    "register": REGISTER,
}


def ct(user, port, params=""):
    return "sip:%s@127.0.0.1:%d%s" % (user, port, params)


# -- basic binding and the 200 OK ---------------------------------------------

def test_register_one_contact_answers_200_listing_it_with_expires(kam, client,
                                                                  user):
    """RFC 3261 10.3 step 8: the 200 OK lists every current binding with an
    expires parameter."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=300)
    assert_ok(r)
    c = r.contact(ct(user, 5101))
    assert c is not None, r.raw
    assert c.expires is not None and 299 <= c.expires <= 300


def test_ok_reply_carries_date_header(kam, client, user):
    """RFC 3261 10.3 step 8: the response SHOULD include a Date header
    (the aor module always sends it)."""
    r = client.register(kam.aor(user), [ct(user, 5101)], expires=300)
    assert_ok(r)
    assert r.has("Date"), r.raw
    assert r.get("Date").endswith("GMT"), r.get("Date")


def test_query_without_contact_lists_current_bindings(kam, client, user):
    """RFC 3261 10.2.3 / 10.3 step 8: a REGISTER without Contact returns the
    current bindings, each with its remaining expires."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    assert_ok(client.register(aor, [ct(user, 5102)], expires=600))
    got = assert_bindings(client, aor, [ct(user, 5101), ct(user, 5102)])
    assert 299 <= got[ct(user, 5101)].expires <= 300
    assert 599 <= got[ct(user, 5102)].expires <= 600


def test_query_of_unknown_aor_is_200_without_contacts(kam, client, user):
    """RFC 3261 10.3 step 8: no bindings -> 200 OK without Contact."""
    r = client.query(kam.aor(user))
    assert_ok(r)
    assert r.contacts() == [], r.raw


def test_granted_expires_equals_stored_expires(kam, client, user):
    """RFC 3261 10.3 step 8: the expires in the 200 OK is the one stored;
    a query right after (and aor.show) report the same value within 1 s."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=1234)
    granted = r.contact(ct(user, 5101)).expires
    q = bindings(client, aor)[ct(user, 5101)].expires
    assert abs(granted - q) <= 1, (granted, q)
    shown = kam.show(aor)
    assert shown and len(shown) == 1, shown
    assert abs(int(shown[0]["expires"]) - granted) <= 1, shown


def test_three_contacts_in_one_register_make_three_bindings(kam, client, user):
    """RFC 3261 10.3 step 7: each Contact of the request is a binding; the
    three may come as separate headers or one comma-separated list."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>, <%s>" % (ct(user, 5101), ct(user, 5102)),
                              "<%s>" % ct(user, 5103)], expires=300)
    assert_ok(r)
    assert sorted(r.contact_uris()) == sorted(
        [ct(user, 5101), ct(user, 5102), ct(user, 5103)]), r.raw
    assert_bindings(client, aor, [ct(user, p) for p in (5101, 5102, 5103)])


def test_devices_registering_separately_accumulate(kam, user):
    """RFC 3261 10.2.1: several UAs (own Call-IDs) bind to one AoR."""
    aor = kam.aor(user)
    for port in (5101, 5102, 5103):
        with kam.client() as c:
            assert_ok(c.register(aor, [ct(user, port)], expires=300))
    with kam.client() as c:
        assert_bindings(c, aor, [ct(user, p) for p in (5101, 5102, 5103)])


def test_user_agent_callid_cseq_are_stored(kam, client, user):
    """aor.show reports Call-ID, CSeq and User-Agent of the binding."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=300, call_id="cid-" + user,
                        cseq=42)
    assert_ok(r)
    shown = kam.show(aor)
    assert shown and len(shown) == 1, shown
    b = shown[0]
    assert b["contact"].strip("<>") == ct(user, 5101)
    assert b["callid"] == "cid-" + user
    assert int(b["cseq"]) == 42
    assert b["useragent"] == "aor-integration-test"


def test_aor_is_taken_from_to_header(kam, client, user):
    """RFC 3261 10.3 step 5: the AoR is the To URI, not the From or R-URI."""
    other = user + "x"
    r = client.register(kam.aor(user), [ct(user, 5101)], expires=300,
                        override={"From": "<%s>;tag=f1" % kam.aor(other)})
    assert_ok(r)
    assert_bindings(client, kam.aor(user), [ct(user, 5101)])
    assert_bindings(client, kam.aor(other), [])


# -- expires: contact param > Expires header > default_expires ----------------

def test_contact_expires_param_overrides_expires_header(kam, client, user):
    """RFC 3261 10.3 step 6: the contact's expires parameter wins over the
    Expires header field."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;expires=120" % ct(user, 5101),
                              "<%s>" % ct(user, 5102)], expires=900)
    got = {c.uri: c.expires for c in r.contacts()}
    assert 119 <= got[ct(user, 5101)] <= 120, r.raw
    assert 899 <= got[ct(user, 5102)] <= 900, r.raw


def test_contact_expires_param_wins_over_expires_header_zero(kam, client,
                                                            user):
    """RFC 3261 10.3 step 6: precedence holds for zero too: 'Expires: 0'
    with ';expires=300' on the contact refreshes, it does not remove."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=120))
    r = client.register(aor, ["<%s>;expires=300" % ct(user, 5101)], expires=0)
    assert_ok(r)
    assert 299 <= r.contact(ct(user, 5101)).expires <= 300, r.raw


def test_default_expires_when_no_expires_given(kam, client, user):
    """RFC 3261 10.3 step 6: without a param or header, the registrar
    chooses (default_expires = 3600)."""
    r = client.register(kam.aor(user), [ct(user, 5101)])
    e = r.contact(ct(user, 5101)).expires
    assert 3599 <= e <= 3600, r.raw


def test_expires_above_max_expires_is_clamped(kam, client, user):
    """RFC 3261 10.3 step 6: the registrar MAY shorten the interval
    (max_expires = 7200)."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=100000)
    assert_ok(r)
    assert 7199 <= r.contact(ct(user, 5101)).expires <= 7200, r.raw
    assert 7199 <= bindings(client, aor)[ct(user, 5101)].expires <= 7200


def test_expires_below_min_expires_is_423_with_min_expires(kam, client, user):
    """RFC 3261 10.3 step 6 / 21.4.17: an interval below min_expires is
    rejected with 423 Interval Too Brief and a Min-Expires header; nothing
    is stored."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=30)
    assert_error(r, 423)
    assert r.get("Min-Expires") == "60", r.raw
    assert_bindings(client, aor, [])


def test_contact_param_below_min_expires_is_423(kam, client, user):
    """RFC 3261 10.3 step 6: the check applies to the expires parameter too."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;expires=10" % ct(user, 5101)], expires=600)
    assert_error(r, 423)
    assert r.get("Min-Expires") == "60", r.raw
    assert_bindings(client, aor, [])


def test_423_leaves_existing_bindings_untouched(kam, client, user):
    """RFC 3261 10.3: a rejected request changes nothing."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    r = client.register(aor, [ct(user, 5101), ct(user, 5102)], expires=5)
    assert_error(r, 423)
    got = assert_bindings(client, aor, [ct(user, 5101)])
    assert got[ct(user, 5101)].expires >= 298


def test_expires_zero_removes_binding_and_is_never_423(kam, client, user):
    """RFC 3261 10.2.2 / 10.3 step 6: expires 0 removes the binding; the
    Min-Expires check never applies to a removal."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    r = client.register(aor, ["<%s>;expires=0" % ct(user, 5101)])
    assert_ok(r)
    assert r.contact_uris() == [ct(user, 5102)], r.raw
    r = client.register(aor, [ct(user, 5102)], expires=0)
    assert_ok(r)
    assert r.contacts() == [], r.raw
    assert_bindings(client, aor, [])
    assert kam.show(aor) is None


def test_removing_unknown_binding_is_200(kam, client, user):
    """RFC 3261 10.3 step 7: expires 0 for a binding that does not exist is
    not an error."""
    r = client.register(kam.aor(user), [ct(user, 5109)], expires=0)
    assert_ok(r)
    assert r.contacts() == []


# -- wildcard ------------------------------------------------------------------

def test_star_with_expires_zero_removes_all_bindings(kam, client, user):
    """RFC 3261 10.3 step 6: 'Contact: *' with 'Expires: 0' removes every
    binding of the AoR (different Call-ID: no ordering check)."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    with kam.client() as other:
        assert_ok(other.register(aor, [ct(user, 5103)], expires=300))
    with kam.client() as c3:
        r = c3.register(aor, ["*"], expires=0)
    assert_ok(r)
    assert r.contacts() == [], r.raw
    assert_bindings(client, aor, [])


def test_star_with_nonzero_expires_is_400(kam, client, user):
    """RFC 3261 10.3 step 6: '*' with an expiration other than zero is
    invalid: 400, nothing removed."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    with kam.client() as c:
        assert_error(c.register(aor, ["*"], expires=300), 400)
    assert_bindings(client, aor, [ct(user, 5101)])


def test_star_without_expires_header_is_400(kam, client, user):
    """RFC 3261 10.3 step 6: '*' requires an Expires header of 0 (without
    one the expiration is not zero)."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    with kam.client() as c:
        assert_error(c.register(aor, ["*"]), 400)
    assert_bindings(client, aor, [ct(user, 5101)])


def test_star_with_other_contacts_is_400(kam, client, user):
    """RFC 3261 10.3 step 6: '*' must be the only Contact."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    with kam.client() as c:
        assert_error(c.register(aor, ["*", "<%s>" % ct(user, 5102)],
                                expires=0), 400)
        assert_error(c.register(aor, ["*, <%s>" % ct(user, 5102)],
                                expires=0), 400)
    assert_bindings(client, aor, [ct(user, 5101)])


def test_star_with_same_callid_and_lower_cseq_fails(kam, client, user):
    """RFC 3261 10.3 step 6: for '*', a binding with the same Call-ID is
    removed only if the CSeq is higher; otherwise the update is aborted and
    the request fails."""
    aor = kam.aor(user)
    cid = "star-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=10))
    r = client.register(aor, ["*"], expires=0, call_id=cid, cseq=5)
    assert_error(r)
    assert_bindings(client, aor, [ct(user, 5101)])


def test_star_with_same_callid_and_higher_cseq_removes(kam, client, user):
    """RFC 3261 10.3 step 6: same Call-ID and a higher CSeq removes."""
    aor = kam.aor(user)
    cid = "star-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=10))
    assert_ok(client.register(aor, ["*"], expires=0, call_id=cid, cseq=11))
    assert_bindings(client, aor, [])


# -- Call-ID / CSeq ordering ----------------------------------------------------

def test_same_callid_lower_cseq_update_fails_and_changes_nothing(kam, client,
                                                                 user):
    """RFC 3261 10.3 step 7: same Call-ID, CSeq not higher than stored: the
    update is aborted and the request fails; the binding keeps its expiry."""
    aor = kam.aor(user)
    cid = "ord-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=20))
    r = client.register(aor, [ct(user, 5101), ct(user, 5102)], expires=900,
                        call_id=cid, cseq=19)
    assert_error(r)
    got = assert_bindings(client, aor, [ct(user, 5101)])
    assert got[ct(user, 5101)].expires <= 300


def test_same_callid_equal_cseq_update_fails(kam, client, user):
    """RFC 3261 10.3 step 7: an equal CSeq is 'not higher': the request
    fails."""
    aor = kam.aor(user)
    cid = "ord-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=20))
    r = client.register(aor, [ct(user, 5101)], expires=900, call_id=cid,
                        cseq=20)
    assert_error(r)
    assert bindings(client, aor)[ct(user, 5101)].expires <= 300


def test_same_callid_lower_cseq_removal_fails(kam, client, user):
    """RFC 3261 10.3 step 7: the rule applies to a removal (expires 0)."""
    aor = kam.aor(user)
    cid = "ord-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=20))
    assert_error(client.register(aor, [ct(user, 5101)], expires=0,
                                 call_id=cid, cseq=3))
    assert_bindings(client, aor, [ct(user, 5101)])


def test_same_callid_higher_cseq_updates(kam, client, user):
    """RFC 3261 10.3 step 7: same Call-ID, higher CSeq updates."""
    aor = kam.aor(user)
    cid = "ord-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=20))
    assert_ok(client.register(aor, [ct(user, 5101)], expires=900,
                              call_id=cid, cseq=21))
    assert bindings(client, aor)[ct(user, 5101)].expires >= 898


def test_other_callid_updates_whatever_the_cseq(kam, client, user):
    """RFC 3261 10.3 step 7: a different Call-ID updates the binding (the
    CSeq is not compared across Call-IDs)."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id="a-" + user, cseq=500))
    assert_ok(client.register(aor, [ct(user, 5101)], expires=900,
                              call_id="b-" + user, cseq=1))
    got = assert_bindings(client, aor, [ct(user, 5101)])
    assert got[ct(user, 5101)].expires >= 898
    assert kam.show(aor)[0]["callid"] == "b-" + user


def test_failed_ordering_check_is_atomic(kam, client, user):
    """RFC 3261 10.3 step 7: 'the update MUST be aborted': when one contact
    of the request fails the CSeq check, no other contact is added."""
    aor = kam.aor(user)
    cid = "atom-" + user
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300,
                              call_id=cid, cseq=20))
    r = client.register(aor, [ct(user, 5102), ct(user, 5101)], expires=300,
                        call_id=cid, cseq=20)
    assert_error(r)
    assert_bindings(client, aor, [ct(user, 5101)])


# -- q values -----------------------------------------------------------------

def test_q_value_is_stored_and_returned(kam, client, user):
    """RFC 3261 20.10: the q parameter is kept with the binding and listed
    in the 200 OK."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;q=0.7" % ct(user, 5101),
                              "<%s>;q=1.0" % ct(user, 5102)], expires=300)
    assert_ok(r)
    got = bindings(client, aor)
    assert got[ct(user, 5101)].q == pytest.approx(0.7)
    assert got[ct(user, 5102)].q == pytest.approx(1.0)


def test_q_above_one_is_400(kam, client, user):
    """RFC 3261 20.10 / 25.1: qvalue is 0..1; q=5 is a bad request."""
    aor = kam.aor(user)
    r = client.register(aor, ["<%s>;q=5" % ct(user, 5101)], expires=300)
    assert_error(r, 400)
    assert_bindings(client, aor, [])


# -- binding identity: RFC 3261 19.1.4 URI equality ---------------------------

def _two_spellings(kam, client, user, first, second):
    aor = kam.aor(user)
    assert_ok(client.register(aor, [first], expires=300))
    assert_ok(client.register(aor, [second], expires=600))
    return list(bindings(client, aor).values())


def test_host_case_is_same_binding(kam, client, user):
    """RFC 3261 19.1.4: the host compares case-insensitively."""
    got = _two_spellings(kam, client, user,
                         "<sip:%s@LOCALHOST.example:5101>" % user,
                         "<sip:%s@localhost.example:5101>" % user)
    assert len(got) == 1, got
    assert got[0].expires >= 598


def test_transport_param_case_is_same_binding(kam, client, user):
    """RFC 3261 19.1.4: parameter values compare case-insensitively
    (transport=UDP == transport=udp)."""
    got = _two_spellings(kam, client, user,
                         "<%s>" % ct(user, 5101, ";transport=UDP"),
                         "<%s>" % ct(user, 5101, ";transport=udp"))
    assert len(got) == 1, got


def test_uri_param_order_is_same_binding(kam, client, user):
    """RFC 3261 19.1.4: URI parameter order does not matter."""
    got = _two_spellings(kam, client, user,
                         "<%s>" % ct(user, 5101, ";transport=udp;foo=bar"),
                         "<%s>" % ct(user, 5101, ";foo=bar;transport=udp"))
    assert len(got) == 1, got


def test_unknown_uri_param_in_one_uri_is_ignored(kam, client, user):
    """RFC 3261 19.1.4: a parameter other than user, ttl, method, maddr,
    transport present in only one URI is ignored."""
    got = _two_spellings(kam, client, user,
                         "<%s>" % ct(user, 5101, ";foo=bar"),
                         "<%s>" % ct(user, 5101))
    assert len(got) == 1, got


def test_user_part_case_makes_two_bindings(kam, client, user):
    """RFC 3261 19.1.4: the userinfo compares case-sensitively."""
    got = _two_spellings(kam, client, user,
                         "<sip:Bob%s@127.0.0.1:5101>" % user,
                         "<sip:bob%s@127.0.0.1:5101>" % user)
    assert len(got) == 2, got


def test_transport_udp_vs_none_makes_two_bindings(kam, client, user):
    """RFC 3261 19.1.4: "A URI omitting any component with a default value
    will not match a URI explicitly containing that component with its
    default value. [...] The same is true for the transport-parameter";
    the section's examples list 'sip:bob@biloxi.com' and
    'sip:bob@biloxi.com;transport=udp' as not equivalent. That bullet names
    transport explicitly, so the general "other uri-parameters appearing in
    only one URI are ignored" does not cover it: two bindings."""
    got = _two_spellings(kam, client, user,
                         "<%s>" % "sip:%s@127.0.0.1" % user,
                         "<%s>" % "sip:%s@127.0.0.1;transport=udp" % user)
    assert len(got) == 2, got


def test_explicit_default_port_makes_two_bindings(kam, client, user):
    """RFC 3261 19.1.4: 'sip:bob@h' and 'sip:bob@h:5060' are not equal."""
    got = _two_spellings(kam, client, user,
                         "<sip:%s@127.0.0.1>" % user,
                         "<sip:%s@127.0.0.1:5060>" % user)
    assert len(got) == 2, got


def test_same_instance_new_uri_replaces_binding(kam, client, user):
    """RFC 5627 section 6 / RFC 5626: a contact with the same +sip.instance
    is the same binding, even with a new URI."""
    aor = kam.aor(user)
    inst = ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-%s>"' % (
        "%012d" % (abs(hash(user)) % 10**12))
    assert_ok(client.register(aor, ["<%s>%s" % (ct(user, 5101), inst)],
                              expires=300))
    with kam.client() as c2:
        r = c2.register(aor, ["<%s>%s" % (ct(user, 5102), inst)], expires=300)
    assert_ok(r)
    assert r.contact_uris() == [ct(user, 5102)], r.raw
    assert_bindings(client, aor, [ct(user, 5102)])


def test_same_instance_and_reg_id_new_uri_replaces_binding(kam, client, user):
    """RFC 5626 section 6: (instance, reg-id) identifies the binding."""
    aor = kam.aor(user)
    inst = ';+sip.instance="<urn:uuid:11111111-0000-0000-0000-%s>";reg-id=1' % (
        "%012d" % (abs(hash(user)) % 10**12))
    assert_ok(client.register(aor, ["<%s>%s" % (ct(user, 5101), inst)],
                              expires=300))
    with kam.client() as c2:
        assert_ok(c2.register(aor, ["<%s>%s" % (ct(user, 5102), inst)],
                              expires=300))
    assert_bindings(client, aor, [ct(user, 5102)])


def test_instance_is_shown_by_rpc(kam, client, user):
    aor = kam.aor(user)
    urn = "urn:uuid:22222222-0000-0000-0000-%012d" % (abs(hash(user)) % 10**12)
    assert_ok(client.register(
        aor, ['<%s>;+sip.instance="<%s>"' % (ct(user, 5101), urn)],
        expires=300))
    shown = kam.show(aor)
    assert shown and urn in shown[0].get("instance", ""), shown


# -- save() flags and uri argument ---------------------------------------------

def test_flag_0x04_keeps_only_this_binding(kam, client, user):
    """save(table, 0x04): the REGISTERed contact replaces all others."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101), ct(user, 5102)],
                              expires=300))
    with kam.client() as c:
        r = c.register(aor, [ct(user, 5103)], expires=300,
                       headers=[("X-Save", "single")])
    assert_ok(r)
    assert r.contact_uris() == [ct(user, 5103)], r.raw
    assert_bindings(client, aor, [ct(user, 5103)])


def test_flag_0x02_sends_no_reply_and_script_replies(kam, client, user):
    """save(table, 0x02): the binding is stored, save() sends nothing and
    the script's own reply is the only one."""
    aor = kam.aor(user)
    cid, cseq = client.register(aor, [ct(user, 5101)], expires=300,
                                headers=[("X-Save", "no-reply")], wait=False)
    r = client.final_reply(cid, cseq)
    assert (r.status, r.reason) == (299, "Custom"), r.raw
    assert client.no_reply(cid, timeout=0.5), "a second reply was sent"
    assert_bindings(client, aor, [ct(user, 5101)])


def test_uri_argument_overrides_to_as_aor(kam, client, user):
    """save(table, flags, uri): the binding goes to the given AoR."""
    target = user + "t"
    r = client.register(kam.aor(user), [ct(user, 5101)], expires=300,
                        headers=[("X-Save", "uri"),
                                 ("X-AoR", kam.aor(target))])
    assert_ok(r)
    assert_bindings(client, kam.aor(target), [ct(user, 5101)])
    assert_bindings(client, kam.aor(user), [])


# -- Path (RFC 3327) ------------------------------------------------------------

def test_path_is_stored_and_echoed_in_ok(kam, client, user):
    """RFC 3327 section 5.3: with 'Supported: path' the registrar stores the
    Path and echoes it in the 200 OK."""
    aor = kam.aor(user)
    path = "<sip:edge-%s@127.0.0.1:5199;lr>" % user
    r = client.register(aor, [ct(user, 5101)], expires=300, path=path)
    assert_ok(r)
    assert r.get_all("Path") == [path], r.raw
    shown = kam.show(aor)
    assert shown and "edge-%s@127.0.0.1:5199" % user in shown[0]["path"], \
        shown


def test_path_without_supported_path_is_420(kam, client, user):
    """RFC 3327 5.3 with path_mode=2 (the stock default): a Path from a UA
    that did not say 'Supported: path' is refused with 420 Bad Extension
    and 'Unsupported: path'; nothing is stored."""
    aor = kam.aor(user)
    r = client.register(aor, [ct(user, 5101)], expires=300,
                        headers=[("Path", "<sip:edge@127.0.0.1:5199;lr>")])
    assert_error(r, 420)
    assert "path" in r.get("Unsupported", "").lower(), r.raw
    assert_bindings(client, aor, [])


def test_error_reply_has_p_registrar_error(kam, client, user):
    """Every error reply of the registrar names the cause in
    P-Registrar-Error (here a 400 for an out-of-range q)."""
    r = client.register(kam.aor(user), ["<%s>;q=2" % ct(user, 5101)],
                        expires=300)
    assert_error(r, 400)


def test_expires_counts_down(kam, client, user):
    """The listed expires is the time left, not the requested interval."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, [ct(user, 5101)], expires=300))
    deadline = time.monotonic() + 3.0

    def left():
        return bindings(client, aor)[ct(user, 5101)].expires
    while left() >= 300 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 297 <= left() <= 299


# -- the AoR key: use_domain, case ---------------------------------------------

def test_aor_user_part_is_case_sensitive(kam, client, user):
    """RFC 3261 19.1.4 / 10.3 step 5: AoR user parts compare
    case-sensitively: 'Alice' and 'alice' are two AoRs."""
    upper, lower = "Up" + user, "up" + user
    assert_ok(client.register(kam.aor(upper), [ct(user, 5101)], expires=300))
    assert_ok(client.register(kam.aor(lower), [ct(user, 5102)], expires=300))
    assert_bindings(client, kam.aor(upper), [ct(user, 5101)])
    assert_bindings(client, kam.aor(lower), [ct(user, 5102)])


def test_use_domain_0_keys_the_aor_by_user_only(kam, client, user):
    """use_domain=0 (default): the domain of the To URI is not part of the
    AoR, so two domains share the bindings."""
    assert_ok(client.register("sip:%s@a.example" % user, [ct(user, 5101)],
                              expires=300))
    assert_bindings(client, "sip:%s@b.example" % user, [ct(user, 5101)])


@pytest.fixture(scope="module")
def kam_domain(module_kamailio):
    return module_kamailio(modparams={"use_domain": 1})


def test_use_domain_1_keeps_domains_apart(kam_domain, user):
    """use_domain=1: 'u@a.example' and 'u@b.example' are two AoRs."""
    kam = kam_domain
    with kam.client() as c:
        assert_ok(c.register("sip:%s@a.example" % user, [ct(user, 5101)],
                             expires=300))
        assert_ok(c.register("sip:%s@b.example" % user, [ct(user, 5102)],
                             expires=300))
        assert_bindings(c, "sip:%s@a.example" % user, [ct(user, 5101)])
        assert_bindings(c, "sip:%s@b.example" % user, [ct(user, 5102)])


def test_use_domain_1_domain_is_case_insensitive(kam_domain, user):
    """RFC 3261 19.1.4: the host part compares case-insensitively, so the
    AoR domain does too (DESIGN.md: 'domain case-insensitive')."""
    kam = kam_domain
    with kam.client() as c:
        assert_ok(c.register("sip:%s@MiXeD.Example" % user, [ct(user, 5101)],
                             expires=300))
        assert_bindings(c, "sip:%s@mixed.example" % user, [ct(user, 5101)])


# -- concurrency ------------------------------------------------------------------

@pytest.fixture(scope="module")
def kam_busy(module_kamailio):
    return module_kamailio(children=4)


def test_concurrent_registrations_to_one_aor_are_all_kept(kam_busy, user):
    """Twenty UAs registering one AoR at once through four worker processes
    end with twenty bindings: no update is lost under the slot lock."""
    import threading
    kam = kam_busy
    aor = kam.aor(user)
    uris = [ct(user, 5200 + i) for i in range(20)]
    replies = [None] * len(uris)
    start = threading.Barrier(len(uris))

    def one(i):
        with kam.client() as c:
            start.wait(5)
            replies[i] = c.register(aor, [uris[i]], expires=300,
                                    timeout=5.0).status
    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(uris))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert replies == [200] * len(uris), replies
    with kam.client() as c:
        assert_bindings(c, aor, uris)
    assert len(kam.show(aor)) == len(uris)
