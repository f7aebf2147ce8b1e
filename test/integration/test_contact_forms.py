"""A Contact is answered the same whichever parser read it.

save() reads a Contact header of one plain contact with the fast parser
(modules/aor/contact.c) and everything else with Kamailio's parse_contact;
the fast parser must agree with Kamailio's or leave the body to it.
test/fuzz/fuzz_contact.c compares the two parsers field by field; here the
same contact is registered alone in its header (the fast parser's case)
and followed by a second contact in the same header (always Kamailio's
parser), and both REGISTERs must get the same answer and binding.
"""

import pytest

from checks import bindings

UUID = "urn:uuid:00000000-0000-1000-8000-000A95A0E128"

# the forms the fast parser once read differently from Kamailio's, and
# plain ones it takes; %s is the user, %d a port of its own
FORMS = {
    "plain": "<sip:%s@127.0.0.1:%d>;expires=120",
    "white-space-inside-brackets": "< sip:%s@127.0.0.1:%d >;expires=120",
    "single-quoted-expires": "<sip:%s@127.0.0.1:%d>;expires='120'",
    "single-quoted-q": "<sip:%s@127.0.0.1:%d>;q='0.5';expires=120",
    "quote-inside-uri": '<sip:%s@127.0.0.1:%d;x="y>;expires=120',
    "upper-case-names": "<sip:%s@127.0.0.1:%d>;EXPIRES=120;Q=0.25",
    "instance-and-ob": '<sip:%s@127.0.0.1:%d>;+sip.instance="<' + UUID
                       + '>";ob;expires=120',
}


def seen(client, aor):
    """{uri: (expires, q)} of the bindings of aor."""
    return {u: (c.expires, c.q) for u, c in bindings(client, aor).items()}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_contact_alone_is_answered_as_beside_another(kam, client, user,
                                                     form):
    contact = FORMS[form] % (user, 5301)
    other = "sip:%s@127.0.0.1:5399" % user
    alone, beside = kam.aor(user + "a"), kam.aor(user + "b")

    r1 = client.register(alone, [contact], expires=300)
    r2 = client.register(beside, [contact + ", <%s>" % other], expires=300)
    assert r1.status == r2.status, "alone: %s, beside another: %s\n%s\n%s" % (
        r1.first_line, r2.first_line, r1.raw, r2.raw)
    if r1.status != 200:
        return
    got1, got2 = seen(client, alone), seen(client, beside)
    assert got2.pop(other, None) is not None, got2
    assert sorted(got1) == sorted(got2)
    for uri, (exp1, q1) in got1.items():
        exp2, q2 = got2[uri]
        assert q1 == q2, (uri, q1, q2)
        # both registered within the same second or two
        assert abs(exp1 - exp2) <= 1, (uri, exp1, exp2)
