"""GRUU (RFC 5627): the pub-gruu and temp-gruu of a 200 OK to REGISTER, and
lookup() of a GRUU Request-URI reaching exactly its instance.

Stock registrar+usrloc (gruu_enabled 1) runs beside aor as the oracle: every
scenario runs through both and the replies are compared. Where they differ
the test says why, naming the clause:
- the temp-gruu's user part is each registrar's own (RFC 5627 5.4 leaves its
  construction to the registrar): stock's is the binding's ruid and the
  AoR's hash, aor's "tgruu." and a sealed box (gruu.h);
- aor hands out a new temp-gruu with every 200 OK, the earlier ones of the
  registration staying valid, and a new Call-ID invalidates them (RFC 5627
  5.1); stock keeps one temp-gruu for the binding's life;
- for a temp-gruu it cannot parse stock's lookup() returns -3, aor's -1 (not
  found); the route answers 404 to both.
Contacts point at UASes (sip.Uas) that answer 486, so tm waits for every
branch and an INVITE shows which bindings it reached. The route answers a
GRUU whose AoR is registered but not its instance with 480, as RFC 5627 6.1
asks, by the recipe of the admin guide (registered() after lookup()).
"""

import time

import pytest

import sip
from checks import assert_alive, assert_ok

ROUTE = """
    if($hdr(X-Op) == "lookup-uri") {
        $var(r) = lookup("location", "$hdr(X-AoR)");
    } else if($hdr(X-Op) == "to-dset") {
        $var(r) = lookup_to_dset("location");
        append_to_reply("X-Rc: $var(r)\\r\\n");
        append_to_reply("X-Count: $branch(count)\\r\\n");
        append_to_reply("X-Branch: $(branch(uri)[0])\\r\\n");
        sl_send_reply("200", "Dset");
        exit;
    } else {
        $var(r) = lookup("location");
    }
    if($var(r) < 0) {
        append_to_reply("X-Rc: $var(r)\\r\\n");
        if($var(r) == -1 && $(ru{uri.param,gr}) != ""
                && registered("location")) {
            sl_send_reply("480", "Temporarily Unavailable");
            exit;
        }
        switch($var(r)) {
            case -2:
                sl_send_reply("405", "Method Not Allowed");
                exit;
            default:
                sl_send_reply("404", "Not Found");
                exit;
        }
    }
    append_hf("X-Lookup-Ruri: $ru\\r\\n");
    if(!t_relay()) {
        sl_reply_error();
    }
    exit;
"""

PARAMS = {"gruu_enabled": 1, "min_expires": 1, "min_expires_mode": 0}
SECRET = "test-secret-of-the-gruu-suite"

INST = {
    "a": "<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>",
    "b": "<urn:uuid:0c1a9c2e-3d4f-4e5a-8b6c-7d8e9fa0b1c2>",
}


@pytest.fixture(scope="module")
def pair(module_kamailio):
    """(aor, stock), gruu_enabled 1, with ROUTE."""
    return (module_kamailio(impl="aor", route=ROUTE,
                            modparams=dict(PARAMS, gruu_secret=SECRET)),
            module_kamailio(impl="stock", route=ROUTE, modparams=PARAMS))


@pytest.fixture(scope="module")
def off_pair(module_kamailio):
    """(aor, stock) with gruu_enabled 0."""
    p = dict(PARAMS, gruu_enabled=0)
    return (module_kamailio(impl="aor", route=ROUTE, modparams=p),
            module_kamailio(impl="stock", route=ROUTE, modparams=p))


def with_inst(uri, inst):
    return '<%s>;+sip.instance="%s"' % (uri, inst)


def register(k, user, contacts, call_id=None, cseq=None, expires=300,
             supported="gruu", headers=()):
    hdrs = list(headers)
    if supported:
        hdrs.append(("Supported", supported))
    with k.client() as c:
        return c.register(k.aor(user), contacts, expires=expires,
                          call_id=call_id or sip.token(16), cseq=cseq,
                          headers=hdrs)


def gruus(reply, uri):
    """(pub-gruu, temp-gruu) of the Contact uri of a 200 OK (None when
    absent)."""
    assert_ok(reply)
    c = reply.contact(uri)
    assert c is not None, reply.raw
    return c.params.get("pub-gruu"), c.params.get("temp-gruu")


def invite(k, ruri, headers=()):
    with k.client() as c:
        return c.invite(ruri, headers=headers)


def reached(uas_list, reply):
    """Indexes of the UASes an INVITE reached (the final reply is in: tm
    has heard every branch)."""
    assert reply.status in (404, 405, 480, 486), reply.raw
    return [i for i, u in enumerate(uas_list) if u.received("INVITE")]


def two_instances(k, user, uas_factory):
    """Instances a and b of user, each at a UAS of its own. Returns
    (uas list, contact uris, 200 OKs, Call-IDs)."""
    uas = [uas_factory(code=486), uas_factory(code=486)]
    uris = [u.contact(user) for u in uas]
    cids = [sip.token(16), sip.token(16)]
    oks = [register(k, user, [with_inst(uris[i], INST[n])], call_id=cids[i],
                    cseq=10)
           for i, n in enumerate("ab")]
    for r in oks:
        assert_ok(r)
    return uas, uris, oks, cids


def clear(uas):
    for u in uas:
        u.clear()


# -- the 200 OK (RFC 5627 5.2) ------------------------------------------------

def test_register_with_supported_gruu_gets_pub_and_temp_gruu_as_stock(
        pair, user):
    """RFC 5627 5.2 (the example of section 8): a REGISTER with
    'Supported: gruu' and a +sip.instance gets, in the 200 OK's Contact of
    that binding, pub-gruu (the AoR with ;gr= the instance) and temp-gruu
    (a URI with a bare ;gr). The pub-gruu is stock's, byte for byte; the
    temp-gruu has stock's shape (sip:, the To's domain, ;gr), its user part
    is the registrar's own."""
    got = {}
    for k in pair:
        uri = "sip:%s@127.0.0.1:5201" % user
        r = register(k, user, [with_inst(uri, INST["a"])])
        pub, temp = gruus(r, uri)
        assert r.contact(uri).params.get("+sip.instance") == INST["a"]
        got[k.impl] = (pub, temp)
    assert got["aor"][0] == got["stock"][0] == (
        "sip:%s@127.0.0.1;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
        % user)
    for impl, (_, temp) in got.items():
        assert temp.startswith("sip:") and temp.endswith("@127.0.0.1;gr"), \
            (impl, temp)
        assert user not in temp, "a temp-gruu hides the AoR: %s" % temp
    assert got["aor"][1].startswith("sip:tgruu.")
    assert got["aor"][1] != got["stock"][1]


def test_query_register_lists_the_gruus_too(pair, user):
    """RFC 5627 5.2: a REGISTER without Contact (a query, RFC 3261 10.2.3)
    that says 'Supported: gruu' lists the GRUUs of the bindings, as stock;
    the pub-gruu is the one the registration gave."""
    for k in pair:
        uri = "sip:%s@127.0.0.1:5202" % user
        pub, _ = gruus(register(k, user, [with_inst(uri, INST["a"])]), uri)
        q = register(k, user, [], expires=None)
        assert gruus(q, uri)[0] == pub, k.impl
        assert gruus(q, uri)[1] is not None, k.impl


def test_no_gruu_without_supported_gruu_or_without_instance(pair, user):
    """RFC 5627 5.2: GRUUs only for a UA that said 'Supported: gruu', and
    only for a contact with +sip.instance; as stock."""
    for k in pair:
        a = "sip:%s@127.0.0.1:5203" % user
        b = "sip:%s@127.0.0.1:5204" % user
        r = register(k, user, [with_inst(a, INST["a"])], supported="path")
        assert gruus(r, a) == (None, None), (k.impl, r.raw)
        r = register(k, user, ["<%s>" % b])
        assert gruus(r, b) == (None, None), (k.impl, r.raw)
        # the instance's binding, listed in the same 200 OK, has them
        assert gruus(r, a)[0] is not None, (k.impl, r.raw)


def test_gruu_enabled_0_gives_no_gruus_as_stock(off_pair, user):
    """gruu_enabled 0: no pub-gruu or temp-gruu, whatever the UA
    supports, as stock's gruu_enabled 0."""
    for k in off_pair:
        uri = "sip:%s@127.0.0.1:5205" % user
        r = register(k, user, [with_inst(uri, INST["a"])])
        assert gruus(r, uri) == (None, None), (k.impl, r.raw)


def test_require_gruu_is_understood_only_with_gruu_enabled(
        pair, off_pair, user):
    """RFC 3261 8.2.2.3 / RFC 5627 5.1: 'Require: gruu' asks the registrar
    to understand GRUU. With gruu_enabled 1 both bind (200) and give the
    GRUUs. With gruu_enabled 0 aor does not understand it: 420 with
    'Unsupported: gruu'; stock ignores Require and binds (200)."""
    for k in pair:
        uri = "sip:%s@127.0.0.1:5206" % user
        r = register(k, user, [with_inst(uri, INST["a"])],
                     headers=[("Require", "gruu")])
        assert gruus(r, uri)[0] is not None, (k.impl, r.raw)
    aor, stock = off_pair
    uri = "sip:%s@127.0.0.1:5207" % user
    r = register(aor, user, [with_inst(uri, INST["a"])],
                 headers=[("Require", "gruu")])
    assert r.status == 420, r.raw
    assert [t.lower() for t in r.get_all("Unsupported")] == ["gruu"], r.raw
    assert register(stock, user, [with_inst(uri, INST["a"])],
                    headers=[("Require", "gruu")]).status == 200


# -- request targeting (RFC 5627 6.1) -----------------------------------------

def test_invite_to_pub_gruu_reaches_that_instance_only(
        pair, uas_factory, user):
    """RFC 5627 6.1 (3.4): a request to a pub-gruu goes to the instance's
    contact only; the AoR's other instance stays silent. The AoR itself
    still forks to both. As stock."""
    for k in pair:
        uas, uris, oks, _ = two_instances(k, user, uas_factory)
        pub_b = gruus(oks[1], uris[1])[0]
        r = invite(k, pub_b)
        assert reached(uas, r) == [1], (k.impl, r.raw)
        assert uas[1].received("INVITE")[0].ruri == uris[1]
        pub_a = gruus(oks[1], uris[0])[0]
        clear(uas)
        assert reached(uas, invite(k, pub_a)) == [0], k.impl
        clear(uas)
        assert reached(uas, invite(k, k.ruri(user))) == [0, 1], k.impl


def test_invite_to_temp_gruu_reaches_its_binding_only(
        pair, uas_factory, user):
    """RFC 5627 6.1: a temp-gruu reaches the binding it was handed out for
    and no other, as stock's."""
    for k in pair:
        uas, uris, oks, _ = two_instances(k, user, uas_factory)
        for i in (1, 0):
            clear(uas)
            r = invite(k, gruus(oks[i], uris[i])[1])
            assert reached(uas, r) == [i], (k.impl, r.raw)
            got = uas[i].received("INVITE")[0]
            assert got.ruri == uris[i]
            assert got.get("X-Lookup-Ruri") == uris[i]


def test_lookup_uri_argument_and_lookup_to_dset_honour_the_gruu(
        pair, uas_factory, user):
    """lookup("location", uri) selects by the GRUU it is given, as stock's
    lookup_helper: the INVITE reaches the pub-gruu's instance only.
    lookup_to_dset() of a temp-gruu makes its binding the one branch; stock
    returns 1 and adds no branch at all (lookup_helper jumps past the
    branch loop for a GRUU even when it did not rewrite the R-URI), which
    loses the binding: aor does not copy that."""
    dset, want = {}, {}
    for k in pair:
        uas, uris, oks, _ = two_instances(k, user, uas_factory)
        pub_a = gruus(oks[0], uris[0])[0]
        r = invite(k, k.ruri(user), headers=[("X-Op", "lookup-uri"),
                                              ("X-AoR", pub_a)])
        assert reached(uas, r) == [0], (k.impl, r.raw)
        with k.client() as c:
            data, cid, cs = c.request(
                "OPTIONS", gruus(oks[1], uris[1])[1], k.aor(user),
                call_id=sip.token(16), headers=[("X-Op", "to-dset")])
            r = c.transact(data, cid, cs)
        dset[k.impl] = (r.status, r.get("X-Rc"), r.get("X-Count"),
                        r.get("X-Branch"))
        want[k.impl] = uris[1]
    assert dset["aor"] == (200, "1", "1", want["aor"])
    assert dset["stock"] == (200, "1", "<null>", "<null>")


def test_refresh_keeps_the_temp_gruu_valid(pair, uas_factory, user):
    """RFC 5627 5.1: a refresh (same Call-ID, higher CSeq) keeps every
    temp-gruu of the registration valid. aor hands out a new one with the
    refresh's 200 OK (RFC 5627 4.2: 'a new temporary GRUU in each
    successful REGISTER response') and the first still reaches the
    binding; stock hands out the same one again."""
    got = {}
    for k in pair:
        uas = uas_factory(code=486)
        uri = uas.contact(user)
        cid = sip.token(16)
        t1 = gruus(register(k, user, [with_inst(uri, INST["a"])],
                            call_id=cid, cseq=5), uri)[1]
        r2 = register(k, user, [with_inst(uri, INST["a"])], call_id=cid,
                      cseq=6)
        t2 = gruus(r2, uri)[1]
        got[k.impl] = (t1, t2)
        for t in (t1, t2):
            uas.clear()
            assert reached([uas], invite(k, t)) == [0], (k.impl, t)
    assert got["stock"][0] == got["stock"][1]
    assert got["aor"][0] != got["aor"][1]


def test_new_call_id_invalidates_the_earlier_temp_gruus(
        pair, uas_factory, user):
    """RFC 5627 5.1: a REGISTER of the instance with another Call-ID (the
    UA restarted) invalidates the temp-gruus handed out before; the new
    one and the pub-gruu reach the binding. aor: the old temp-gruu gets
    404. Stock keeps the binding's ruid, so its temp-gruu stays the same
    and keeps working: it does not do this."""
    got = {}
    for k in pair:
        uas = uas_factory(code=486)
        uri = uas.contact(user)
        pub, t1 = gruus(register(k, user, [with_inst(uri, INST["a"])],
                                 call_id=sip.token(16), cseq=5), uri)
        pub2, t2 = gruus(register(k, user, [with_inst(uri, INST["a"])],
                                  call_id=sip.token(16), cseq=1), uri)
        assert pub2 == pub
        for t in (pub, t2):
            uas.clear()
            assert reached([uas], invite(k, t)) == [0], (k.impl, t)
        uas.clear()
        r = invite(k, t1)
        got[k.impl] = (t1 == t2, r.status, [0] if uas.received() else [])
    assert got["aor"] == (False, 404, [])
    assert got["stock"] == (True, 486, [0])


def test_unknown_pub_gruu_is_404_as_stock(pair, user):
    """RFC 5627 6.1: a GRUU that does not exist gets 404, as stock's -1
    does with the usual route."""
    for k in pair:
        r = invite(k, "sip:%s@127.0.0.1;gr=urn:uuid:%s" % (
            user, "00000000-0000-0000-0000-000000000000"))
        assert r.status == 404, (k.impl, r.raw)
        assert r.get("X-Rc") == "-1", (k.impl, r.raw)


def test_gruu_of_an_instance_gone_or_expired(pair, uas_factory, user):
    """RFC 5627 6.1: when the instance's binding has expired (or was
    removed) while the AoR keeps another, its pub-gruu gets 480 by the
    route's recipe (lookup() -1, registered() 1); its temp-gruu is 404
    (lookup() -1, no AoR to ask about); once the AoR has no binding left
    the pub-gruu is 404. The same replies and return codes as stock."""
    got = {}
    for k in pair:
        uas = [uas_factory(code=486), uas_factory(code=486)]
        uris = [u.contact(user) for u in uas]
        ra = register(k, user, [with_inst(uris[0], INST["a"])], expires=2)
        register(k, user, [with_inst(uris[1], INST["b"])], expires=300)
        pub_a, temp_a = gruus(ra, uris[0])
        time.sleep(3)  # the binding's expiry, not a readiness wait
        seen = [invite(k, pub_a).status, invite(k, temp_a).status]
        register(k, user, [with_inst(uris[1], INST["b"])], expires=0)
        seen.append(invite(k, pub_a).status)
        assert not any(u.received("INVITE") for u in uas), k.impl
        got[k.impl] = seen
    assert got["aor"] == got["stock"] == [480, 404, 404]


def test_use_domain_gruus_as_stock(module_kamailio, uas_factory, user):
    """use_domain 1: the AoR key holds the domain, the pub-gruu is that key
    with sip: and ;gr=, as stock writes it; both GRUUs reach the binding."""
    p = dict(PARAMS, use_domain=1)
    pubs = {}
    for k in (module_kamailio(impl="aor", route=ROUTE, modparams=p),
              module_kamailio(impl="stock", route=ROUTE, modparams=p)):
        uas = uas_factory(code=486)
        uri = uas.contact(user)
        pub, temp = gruus(register(k, user, [with_inst(uri, INST["b"])]),
                          uri)
        pubs[k.impl] = pub
        for g in (pub, temp):
            uas.clear()
            assert reached([uas], invite(k, g)) == [0], (k.impl, g)
    assert pubs["aor"] == pubs["stock"] == (
        "sip:%s@127.0.0.1;gr=%s" % (user, INST["b"][1:-1]))


# -- hostile GRUUs ------------------------------------------------------------

def test_garbage_gruus_get_a_clear_404_and_nothing_else(
        pair, uas_factory, user):
    """A GRUU of garbage: ';gr=' with no value, a 10 KB instance, a
    temp-gruu with bad characters, cut short or changed by one character,
    one in stock's form with bad hex. Each is answered 404 by both (stock's
    lookup() says -3 for what it cannot parse, aor's -1: there is no such
    GRUU), no binding gets a request, and the server carries on: the real
    GRUU still works. A 10 KB instance in a pub-gruu of the registered AoR
    is a lookup() -1 for both; the route's registered() then finds the AoR
    for stock (480), while aor's registered() takes no URI longer than
    1024 bytes (-1, so 404): a clear reply either way."""
    long_inst = "urn:uuid:%s" % ("f" * 10240)
    long_pub = {}
    for k in pair:
        uas, uris, oks, _ = two_instances(k, user, uas_factory)
        pub_a, temp_a = gruus(oks[0], uris[0])
        ttok = temp_a[4:temp_a.index("@")]
        flip = ttok[:-3] + ("a" if ttok[-3] != "a" else "b") + ttok[-2:]
        bad = [
            "sip:%s@127.0.0.1;gr=" % user,
            "sip:nobody%s@127.0.0.1;gr=%s" % (user, long_inst),
            "sip:tgruu.zz!!~~**@127.0.0.1;gr",
            "sip:%s@127.0.0.1;gr" % ttok[:-5],
            "sip:%s@127.0.0.1;gr" % flip,
            "sip:uloc-5f0a1b2c-1a2b-1-zz9q@127.0.0.1;gr",
            "sip:tgruu.%s@127.0.0.1;gr" % ("a" * 10240),
        ]
        for ruri in bad:
            r = invite(k, ruri)
            assert r.status == 404, (k.impl, ruri[:80], r.raw[:300])
        r = invite(k, "sip:%s@127.0.0.1;gr=%s" % (user, long_inst))
        long_pub[k.impl] = (r.status, r.get("X-Rc"))
        assert not any(u.received("INVITE") for u in uas), k.impl
        assert_alive(k)
        assert reached(uas, invite(k, pub_a)) == [0], k.impl
    assert long_pub == {"aor": (404, "-1"), "stock": (480, "-1")}


def test_register_with_a_10kb_instance(pair, user):
    """A REGISTER whose +sip.instance is 10 KB, with 'Supported: gruu': both
    bind it and answer 200 with a pub-gruu that holds it (the 200 OK is a
    20 KB datagram); the server stays up."""
    inst = "<urn:uuid:%s>" % ("e" * 10240)
    for k in pair:
        uri = "sip:%s@127.0.0.1:5208" % user
        r = register(k, user, [with_inst(uri, inst)])
        pub, temp = gruus(r, uri)
        assert pub == "sip:%s@127.0.0.1;gr=%s" % (user, inst[1:-1]), k.impl
        assert temp is not None
        assert_alive(k)


# -- aor only: the temp-gruu and the key --------------------------------------

def test_temp_gruu_survives_a_restart_with_gruu_secret(
        kamailio_factory, tmp_path, uas_factory, user):
    """With gruu_secret the key of temp-gruus is the same at every start:
    one handed out before a restart (the binding kept by the snapshot)
    still reaches its binding; a start with another secret opens none
    (404)."""
    snap = str(tmp_path / "aor.xml")
    uas = uas_factory(code=486)
    uri = uas.contact(user)
    params = dict(PARAMS, gruu_secret=SECRET, snapshot_file=snap)
    k = kamailio_factory(impl="aor", route=ROUTE, modparams=params)
    temp = gruus(register(k, user, [with_inst(uri, INST["a"])]), uri)[1]
    port = k.port
    k.stop()
    k = kamailio_factory(impl="aor", route=ROUTE, modparams=params,
                         port=port)
    assert reached([uas], invite(k, temp)) == [0]
    k.stop()
    uas.clear()
    other = dict(params, gruu_secret="another secret of 16+ bytes")
    k = kamailio_factory(impl="aor", route=ROUTE, modparams=other, port=port)
    assert invite(k, temp).status == 404
    assert not uas.received("INVITE")
