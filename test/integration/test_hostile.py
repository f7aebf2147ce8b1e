"""Hostile and malformed REGISTERs and INVITEs, one message per test.

The REGISTER-related messages of RFC 4475 (SIP torture tests, sections
3.1.1, 3.1.2 and 3.3) adapted to this server, then oversized headers and
URIs, thousands of contacts, duplicate and conflicting Expires, odd
encodings and NUL bytes, wildcard abuses, CSeq and Call-ID abuses. Most go
over UDP; those larger than a datagram, and a few others, over TCP.

One Kamailio (children=1, UDP and TCP) serves the whole file. Before the
first test three victim AoRs are registered: victim1 with two bindings (a
live UAS at q=0.9 and a dead port at q=0.1), victim2 with a
+sip.instance/reg-id binding, victim3 added by `aor.add`. Hostile messages
that must be refused target a victim, so that a wrong acceptance shows up
as a changed victim; messages that may legitimately be stored use an AoR of
their own, removed by `aor.rm` after the test.

For each message the test asserts the exact reply code, or that Kamailio
dropped it without a reply (DROP: its core parser refuses the message
before any script runs, which RFC 3261 18.3 / RFC 4475 allow for a message
too broken to answer). Drops are proven, not timed out: with one SIP worker
a datagram is processed before the next, so an OPTIONS sent after the
message is answered only after the message was; any reply to the message
has arrived by then. After every message: Kamailio answers OPTIONS and
RPC, and the victims are unchanged (`aor.show` of each, field by field;
`aor.count`; a query REGISTER of each).
"""

import time

import pytest

import kam as kammod
import sip
from checks import assert_alive

DROP = None
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
V1_CALLID, V1_CSEQ = "victim1-callid@127.0.0.1", 100
V2_CALLID, V2_CSEQ = "victim2-callid@127.0.0.1", 200
V2_INSTANCE = "<urn:uuid:00000000-0000-0000-0000-000000000002>"
VICTIMS = ("victim1", "victim2", "victim3")
DEAD = "sip:victim1@127.0.0.1:5002"  # nothing answers there
# aor.show fields that change with time alone
VOLATILE = ("expires",)


# -- the server and its victims ----------------------------------------------

@pytest.fixture(scope="module")
def hk(module_kamailio):
    if kammod.IMPL == "stock":
        pytest.fail("checks the aor module (the victims are made by aor.add)")
    port = sip.free_port(tcp_span=1)
    return module_kamailio(
        port=port, children=1,
        globals_="disable_tcp=no\nlisten=tcp:127.0.0.1:%d\n"
                 "tcp_connection_lifetime=10\n" % port)


@pytest.fixture(scope="module")
def uas():
    u = sip.Uas()
    yield u
    u.close()


def show(k, user):
    """Bindings of user from aor.show, without the fields time changes."""
    rows = shown(k, user)
    return sorted(tuple(sorted((f, v) for f, v in r.items()
                               if f not in VOLATILE)) for r in rows)


def shown(k, key):
    """aor.show of a store key as it is (kam.show would cut it at '@')."""
    try:
        out = k.kamcmd("aor.show", key)
    except kammod.KamcmdError as e:
        if e.code == 404:
            return []
        raise
    return [dict(st) for st in kammod.rpc_structs(kammod.parse_rpc(out))
            if dict(st).get("contact", "").startswith(("sip", "<sip"))]


def query_uris(k, user):
    with k.client() as c:
        r = c.query("sip:%s@127.0.0.1" % user)
    assert r.status == 200, r.raw
    return sorted(r.contact_uris())


def make_victims(k, uas):
    """Registers the victims in an empty table; returns their state (aor.show
    and query of each) and the table totals."""
    k.kamcmd("aor.flush")
    with k.client() as c:
        r = c.register("sip:victim1@127.0.0.1",
                       ["<%s>;q=0.9" % uas.contact("victim1"),
                        "<%s>;q=0.1" % DEAD],
                       expires=3600, call_id=V1_CALLID, cseq=V1_CSEQ)
        assert r.status == 200, r.raw
        r = c.register("sip:victim2@127.0.0.1",
                       ['<sip:victim2@127.0.0.1:5003>;+sip.instance="%s"'
                        ';reg-id=1' % V2_INSTANCE],
                       expires=3600, call_id=V2_CALLID, cseq=V2_CSEQ)
        assert r.status == 200, r.raw
    k.kamcmd("aor.add", "victim3", "sip:victim3@127.0.0.1:5004", 0)
    state = {v: (show(k, v), query_uris(k, v)) for v in VICTIMS}
    assert all(state[v][0] for v in VICTIMS), state
    k.baseline = k.count()
    return state


@pytest.fixture(scope="module")
def victims(hk, uas):
    return {"state": make_victims(hk, uas)}


def intact_count(k):
    return k.baseline[1]


@pytest.fixture(autouse=True)
def intact(hk, uas, victims):
    """After each test: alive, its own AoRs removed, the victims and the
    table totals as they were. A test that changed them fails, and the
    victims are made afresh so that the next test starts clean."""
    made = []
    yield made
    assert_alive(hk)
    for key in made:
        hk.kamcmd("aor.rm", key, check=False)
    state = victims["state"]
    wrong = [v for v in VICTIMS
             if show(hk, v) != state[v][0] or query_uris(hk, v) != state[v][1]]
    count = hk.count()
    if wrong or count != hk.baseline:
        victims["state"] = make_victims(hk, uas)
    assert not wrong, "victims changed: %s" % wrong
    assert count == hk.baseline, "table totals changed"


# -- sending a message, collecting what came back -----------------------------

class Ctx:
    """What a message builder may use: the server port, the client's
    address and transport, a fresh AoR user for the test."""

    def __init__(self, port, lport, transport, user):
        self.port, self.lport, self.transport = port, lport, transport
        self.user = user
        self.aor = "sip:%s@127.0.0.1" % user
        self.ruri = "sip:127.0.0.1:%d" % port
        self.callid = sip.token(16) + "@127.0.0.1"

    def via(self):
        return "SIP/2.0/%s 127.0.0.1:%d;branch=%s;rport" % (
            self.transport, self.lport, sip.new_branch())

    def ct(self, n=1, user=None):
        return "sip:%s@127.0.0.1:%d" % (user or self.user, 5100 + n)

    def invite_ruri(self, user):
        return "sip:%s@127.0.0.1:%d" % (user, self.port)


def build(ctx, method="REGISTER", ruri=None, to=None, from_=None,
          callid=None, cseq=None, contacts=(), expires=None, extra=(),
          body="", drop=(), cl=True, first=None):
    """A request as bytes. to: the To URI (bracketed unless it holds '<' or
    '"'); contacts: Contact header values, one header each; drop: header
    names to leave out; cl: True (computed), False (none) or a value."""
    to = ctx.aor if to is None else to
    if "<" not in to and '"' not in to:
        to = "<%s>" % to
    if from_ is None:
        from_ = "%s;tag=%s" % (to, sip.token(8))
    hdrs = [("Via", ctx.via()), ("Max-Forwards", "70"), ("To", to),
            ("From", from_), ("Call-ID", callid or ctx.callid),
            ("CSeq", cseq or "%d %s" % (1, method))]
    hdrs += [("Contact", c) for c in contacts]
    if expires is not None:
        hdrs.append(("Expires", str(expires)))
    hdrs += list(extra)
    if method == "INVITE" and body == "" and "body" not in drop:
        body = SDP
        hdrs.append(("Content-Type", "application/sdp"))
    if cl is True:
        hdrs.append(("Content-Length", str(len(body.encode()))))
    elif cl is not False:
        hdrs.append(("Content-Length", str(cl)))
    lines = [first or "%s %s SIP/2.0" % (method, ruri or ctx.ruri)]
    lines += ["%s: %s" % (n, v) for n, v in hdrs if n not in drop]
    data = "\r\n".join(lines) + "\r\n\r\n" + body
    return data.encode("utf-8", "surrogateescape")


def raw(ctx, text):
    """An RFC 4475 message as printed there (LF line ends), with %(via)s,
    %(ruri)s, %(aor)s, %(user)s, %(port)d, %(callid)s and %(cl)d (the
    body's length) filled in."""
    head, _, body = text.lstrip("\n").partition("\n\n")
    body = body.replace("\n", "\r\n").encode("utf-8", "surrogateescape")
    head = head % {"via": ctx.via(), "ruri": ctx.ruri, "aor": ctx.aor,
                   "user": ctx.user, "port": ctx.port, "callid": ctx.callid,
                   "cl": len(body)}
    return (head.replace("\n", "\r\n") + "\r\n\r\n").encode(
        "utf-8", "surrogateescape") + body


def options(ctx, call_id):
    return build(ctx, "OPTIONS", to=ctx.ruri, callid=call_id)


def exchange(k, ctx, conn, data, expect):
    """Sends data over conn (a sip.Client, or a sip.TcpClient); returns its
    final reply, or None when there was none (proven by the OPTIONS that
    follows it, see the module docstring)."""
    try:
        conn.send_raw(data)
    except OSError:
        pass  # TCP: the server closed the connection while we wrote
    final = None
    if expect is not DROP:
        # a relayed request is answered after the callee answers: wait
        deadline = time.monotonic() + 4.0
        try:
            while final is None:
                m = conn.recv(deadline - time.monotonic())
                if m.is_reply and m.status >= 200:
                    final = m
        except (sip.Timeout, ConnectionResetError):
            pass
    probe = "probe-" + sip.token(12)
    try:
        conn.send_raw(options(ctx, probe))
    except OSError:
        return final  # TCP: the server closed the connection
    deadline = time.monotonic() + 4.0
    try:
        while True:
            m = conn.recv(deadline - time.monotonic())
            if not m.is_reply or m.status < 200:
                continue
            if m.get("call-id") == probe:
                return final
            final = final or m
    except ConnectionResetError:
        return final
    except sip.Timeout:
        if ctx.transport == "TCP":
            return final  # a half-read message swallowed the probe
        raise


# -- the messages -------------------------------------------------------------

class Case:
    """One hostile message. make(ctx) -> bytes; expect: a status code or
    DROP; stores(ctx) -> {aor user: [contact URIs]} the message is meant
    to store (checked by a query REGISTER, then removed), or None."""

    def __init__(self, id, make, expect, stores=None, transport="UDP",
                 check=None):
        self.id, self.make, self.expect = id, make, expect
        self.stores, self.transport, self.check = stores, transport, check


CASES = []


def case(id, expect, stores=None, transport="UDP", check=None):
    def deco(make):
        CASES.append(Case(id, make, expect, stores, transport, check))
        return make
    return deco


def own(*contacts):
    """stores= for a message that binds contacts (callables of ctx, or
    strings) to the test's own AoR."""
    return lambda ctx: {ctx.user: [c(ctx) if callable(c) else c
                                   for c in contacts]}


# RFC 4475 3.1.1: valid messages, tortuous in form --------------------------

WSINV = """
INVITE sip:victim1@127.0.0.1:%(port)d;unknownparam SIP/2.0
TO :
 sip:victim1@127.0.0.1 ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : %(cl)d
cseq: 0009
  INVITE
Via: %(via)s
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"""


@case("4475-3.1.1.1-wsinv-folded-cseq-is-dropped-by-the-core", DROP)
def _(ctx):
    """RFC 4475's short tortuous INVITE (LWS, folding, odd case, escaped
    quotes, unknown headers) to victim1. Kamailio 5.6's core CSeq parser
    does not take the line folded between number and method ("cseq:
    0009 CRLF INVITE") and drops the message before any script or module
    sees it: a limitation of the core, harmless to the registrar."""
    return raw(ctx, WSINV)


@case("4475-3.1.1.1-wsinv-unfolded-cseq-invite-to-victim", 200)
def _(ctx):
    """The same message with only the CSeq unfolded: parsed, looked up
    through its odd R-URI (unknown parameter) and relayed to victim1's
    UAS, which answers 200."""
    return raw(ctx, WSINV.replace("cseq: 0009\n  INVITE", "cseq: 0009 INVITE"))


@case("4475-3.1.1.2-intmeth-to-victim", 200)
def _(ctx):
    """A method name made of every token character: not REGISTER, so the
    registrar leaves it alone; victim1's UAS answers it."""
    m = "!interesting-Method0123456789_*+`.%indeed'~"
    return build(ctx, m, ruri=ctx.invite_ruri("victim1"),
                 to="sip:victim1@127.0.0.1",
                 cseq="139122385 %s" % m,
                 extra=[("Contact", "<sip:caller@127.0.0.1>")])


@case("4475-3.1.1.3-esc01-invite-unknown-user", 404)
def _(ctx):
    """Escaped characters in the R-URI user: looked up by their unescaped
    form (RFC 3261 19.1.4), which nobody registered: 404."""
    return build(ctx, "INVITE",
                 ruri="sip:sips%%3A%s%%40example.com@127.0.0.1:%d" % (
                     ctx.user, ctx.port),
                 to="sip:sips%%3A%s%%40example.com@127.0.0.1" % ctx.user)


@case("4475-3.1.1.4-escnull-register", 200,
      stores=lambda ctx: {"null-%00-null" + ctx.user[-4:]: [
          "sip:%00@host5.example.com", "sip:%00%00@host5.example.com"]})
def _(ctx):
    """Escaped NULs in the To and Contact users: a valid REGISTER that
    binds both contacts (RFC 4475 3.1.1.4); %00 stays escaped in the key,
    so no key holds a NUL byte."""
    return raw(ctx, """
REGISTER %(ruri)s SIP/2.0
To: sip:null-%%00-null""" + ctx.user[-4:] + """@127.0.0.1
From: sip:null-%%00-null""" + ctx.user[-4:] + """@127.0.0.1;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: %(via)s
Contact: <sip:%%00@host5.example.com>
Contact: <sip:%%00%%00@host5.example.com>
L:0

""")


@case("4475-3.1.1.5-esc02-escaped-method-is-not-register", DROP)
def _(ctx):
    """RE%47IST%45R is an unknown method, not REGISTER (RFC 4475 3.1.1.5):
    its contacts for victim1 are never bound. The script answers the
    unknown method with 404, but Kamailio's core cannot build that reply:
    its header parser refuses the name "C%6Fntact" ('%' is a token
    character, RFC 3261 25.1, yet not in a header name for the core), so
    nothing is sent. A limitation of the core; what matters here is that
    victim1 is untouched. (Without that header the 404 comes.)"""
    return raw(ctx, """
RE%%47IST%%45R %(ruri)s SIP/2.0
To: "%%Z%%45" <sip:victim1@127.0.0.1>
From: "%%Z%%45" <sip:victim1@127.0.0.1>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: %(via)s
CSeq: 29344 RE%%47IST%%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

""")


@case("4475-3.1.1.6-lwsdisp-register", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """A display name with no space before '<' is valid: bound."""
    return build(ctx, to="caller<%s>" % ctx.aor,
                 contacts=["caller<%s>" % ctx.ct()], expires=300)


@case("4475-3.1.1.7-longreq-register", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """Long values everywhere (display names, header names, parameters,
    30 Via-like unknown headers): valid, bound; the long contact-param is
    not part of the URI."""
    longname = "a" * 1000
    extra = [("X-" + "b" * 200 + "-%d" % i, "c" * 300) for i in range(30)]
    return build(ctx, to='"%s" <%s>' % (longname, ctx.aor),
                 contacts=['"%s" <%s>;unknownparam=%s' % (
                     longname, ctx.ct(), "d" * 900)],
                 expires=300, extra=extra)


@case("4475-3.1.1.8-dblreq-register", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """Content-Length: 0 followed by a second request in the same
    datagram: the REGISTER is processed, the rest ignored (RFC 3261
    18.3)."""
    first = build(ctx, contacts=["<%s>" % ctx.ct()], expires=300)
    second = build(ctx, "INVITE", ruri=ctx.invite_ruri("victim1"),
                   to="sip:victim1@127.0.0.1")
    return first + second


@case("4475-3.1.1.9-semiuri-register", 200,
      stores=lambda ctx: {ctx.user + ";par=u@example.net": [ctx.ct()]})
def _(ctx):
    """A ';' and an escaped '@' in the user part of the AoR: the key is
    the whole user, unescaped (RFC 3261 10.3 step 5)."""
    return build(ctx, to="sip:%s;par=u%%40example.net@127.0.0.1" % ctx.user,
                 contacts=["<%s>" % ctx.ct()], expires=300)


# RFC 4475 3.1.2: invalid messages --------------------------------------------

@case("4475-3.1.2.1-badinv01-bad-via-is-dropped", DROP)
def _(ctx):
    """Extraneous separators in a Via (';;,;,,') and in Contact: the core
    cannot parse the Via chain, so it cannot answer either: dropped,
    victim1 untouched."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=['"Joe" <%s>;;;;' % ctx.ct(user="victim1")],
                 expires=300, extra=[("Via", "SIP/2.0/UDP 192.0.2.15;;,;,,")])


@case("4475-3.1.2.1-badinv01-empty-contact-params-to-victim", 400)
def _(ctx):
    """The same empty parameters in Contact alone: a contact-param is a
    non-empty token (RFC 3261 25.1): 400, victim1 untouched."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=['"Joe" <%s>;;;;' % ctx.ct(user="victim1")],
                 expires=300)


@case("4475-3.1.2.2-clerr-content-length-too-large", 400)
def _(ctx):
    """Content-Length larger than the datagram: RFC 3261 18.3, the
    request is incomplete and SHOULD get a 400. Kamailio's core passes it
    on; save() refuses it, so victim1 gains nothing."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300,
                 cl=9999, body="v=0\r\n")


@case("4475-3.1.2.3-ncl-negative-content-length", DROP)
def _(ctx):
    """A negative Content-Length cannot be parsed: dropped."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300,
                 cl=-999)


@case("4475-3.1.2.4-scalar02-overlarge-values-to-victim", 400)
def _(ctx):
    """CSeq above 2**32, Max-Forwards 300, Expires and contact expires far
    beyond 2**32-1: 400 (RFC 4475 3.1.2.4), victim1 untouched."""
    return raw(ctx, """
REGISTER %(ruri)s SIP/2.0
Via: %(via)s
To: <sip:victim1@127.0.0.1>
From: <sip:victim1@127.0.0.1>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: victim1-callid@127.0.0.1
Max-Forwards: 300
Expires: 10000000000000000000000000000000000000000000000000000
Contact: <sip:victim1@127.0.0.1:5002>
  ;expires=280297596632815
Content-Length: 0

""")


@case("4475-3.1.2.6-quotbal-unterminated-quote-to-victim", DROP)
def _(ctx):
    """An unterminated quoted display name in To: the core's To parser
    fails, so no reply (which needs the To) can be built: dropped,
    victim1 untouched."""
    return build(ctx, to='"Mr. J. User <sip:victim1@127.0.0.1>',
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.7-ltgtruri-bracketed-request-uri", 400)
def _(ctx):
    """<> around the Request-URI: Kamailio's core takes the request line,
    but the URI does not parse; save() answers 400 (RFC 4475 3.1.2.7)
    instead of binding victim1's contact."""
    return build(ctx, first="REGISTER <%s> SIP/2.0" % ctx.ruri,
                 to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.8-lwsruri-space-in-request-uri", DROP)
def _(ctx):
    """LWS inside the Request-URI: the request line does not parse."""
    return build(ctx, first="REGISTER %s; lr SIP/2.0" % ctx.ruri,
                 to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.9-lwsstart-multiple-spaces-request-line", DROP)
def _(ctx):
    """Several SP between the request-line elements: not a request line
    (RFC 3261 25.1: exactly one SP)."""
    return build(ctx, first="REGISTER  %s  SIP/2.0" % ctx.ruri,
                 to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.10-trws-trailing-space-request-line", 200,
      stores=own(lambda c: c.ct()))
def _(ctx):
    """Trailing SP after SIP/2.0: RFC 4475 3.1.2.10 allows a tolerant
    parser to accept it; Kamailio does, and the REGISTER binds."""
    return build(ctx, first="REGISTER %s SIP/2.0  " % ctx.ruri,
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("4475-3.1.2.11-escruri-escaped-headers-in-ruri", 404)
def _(ctx):
    """Escaped headers in the INVITE's Request-URI: the user part is what
    lookup() uses; no such user: 404."""
    return build(ctx, "INVITE",
                 ruri="sip:%s@127.0.0.1:%d?Route=%%3Csip:example.com%%3E" % (
                     ctx.user, ctx.port),
                 to="sip:%s@127.0.0.1" % ctx.user)


@case("4475-3.1.2.12-baddate-register", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """A Date with a non-GMT zone: the registrar does not read Date
    (RFC 4475 3.1.2.12 allows ignoring it); bound."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 extra=[("Date", "Fri, 01 Jan 2010 16:00:00 EST")])


@case("4475-3.1.2.13-regbadct-unbracketed-contact-with-headers", 200,
      stores=own(lambda c: "sip:%s@127.0.0.1:5101?Route=%%3Csip:sip.example"
                 ".com%%3E" % c.user))
def _(ctx):
    """A Contact addr-spec with an escaped header and no <>: RFC 4475
    3.1.2.13 lets a liberal registrar infer the brackets; Kamailio's
    parser does, and the URI with its header part is bound."""
    return build(ctx, contacts=[
        "sip:%s@127.0.0.1:5101?Route=%%3Csip:sip.example.com%%3E" % ctx.user],
        expires=300)


@case("4475-3.1.2.14-badaspec-spaces-in-addr-spec", 200,
      stores=own(lambda c: c.ct()))
def _(ctx):
    """Spaces inside <> around the To addr-spec: Kamailio's To parser
    trims them (RFC 4475 3.1.2.14 allows a tolerant reading); bound to the
    test's AoR and nothing else."""
    return build(ctx, to='"Watson, Thomas" < %s >' % ctx.aor,
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("4475-3.1.2.15-baddn-unquoted-comma-display-name", 200,
      stores=own(lambda c: c.ct()))
def _(ctx):
    """Non-token characters in an unquoted display name of From and To:
    Kamailio reads up to the '<'; bound to the test's AoR only."""
    return build(ctx, to="Bell, Alexander <%s>" % ctx.aor,
                 from_="Bell, Alexander <%s>;tag=43" % ctx.aor,
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("4475-3.1.2.16-badvers-sip-7.0", DROP)
def _(ctx):
    """SIP/7.0: Kamailio's parser accepts only SIP/2.0 and drops the
    rest; victim1 untouched."""
    return build(ctx, first="REGISTER %s SIP/7.0" % ctx.ruri,
                 to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.17-mismatch01-cseq-method-to-victim", 400)
def _(ctx):
    """CSeq method INVITE in a REGISTER: malformed (RFC 3261 8.1.1.5,
    RFC 4475 3.1.2.17): 400, victim1 untouched."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="8 INVITE",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("4475-3.1.2.18-mismatch02-unknown-method", 404)
def _(ctx):
    """An unknown method whose CSeq says INVITE: not a REGISTER, so no
    binding; the script looks it up: 404."""
    return build(ctx, "NEWMETHOD", ruri=ctx.invite_ruri(ctx.user),
                 cseq="1 INVITE", contacts=["<%s>" % ctx.ct()])


# RFC 4475 3.3: application-layer semantics ----------------------------------

@case("4475-3.3.1-insuf-missing-to-from-callid", DROP)
def _(ctx):
    """No To, From or Call-ID: Kamailio's core drops a request without
    them (no reply can be built without To, From and Call-ID)."""
    return build(ctx, contacts=["<%s>" % ctx.ct(user="victim1")],
                 expires=300, drop=("To", "From", "Call-ID"))


@case("4475-3.3.2-unkscm-unknown-request-uri-scheme", 416)
def _(ctx):
    """An unknown Request-URI scheme: a registrar serves sip: and sips:
    domains only (RFC 3261 10.3 step 1, 8.2.2.1): 416, nothing bound."""
    return build(ctx, ruri="nobodyKnowsThisScheme:totallyopaquecontent",
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("4475-3.3.4-unksm2-unknown-schemes-in-to-and-contact", 400)
def _(ctx):
    """To isbn:, From http:, Contact name:: no SIP AoR and no SIP contact:
    400 (RFC 3261 10.3 step 5)."""
    return raw(ctx, """
REGISTER %(ruri)s SIP/2.0
To: isbn:2983792873
From: <http://www.example.com>;tag=3234233
Call-ID: unksm2.daksdj@hyphenated-host.example.com
CSeq: 234902 REGISTER
Max-Forwards: 70
Via: %(via)s
Contact: <name:John_Smith>
l: 0

""")


@case("4475-3.3.7-regaut01-unknown-auth-scheme-query-of-victim", 200,
      check=lambda r, ctx: sorted(r.contact_uris()) == sorted(
          ["sip:victim1@127.0.0.1:%d" % ctx.uas_port, DEAD]))
def _(ctx):
    """An Authorization of an unknown scheme on a query: this script does
    not authenticate, so the query lists victim1's bindings, changing
    nothing."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 extra=[("Authorization",
                         "NoOneKnowsThisScheme opaque-data=here")])


@case("4475-3.3.8-multi01-duplicate-single-value-headers", DROP)
def _(ctx):
    """Two To, two Call-ID, two CSeq (the second To is victim1): Kamailio's
    strict header parser (sip_parser_mode) refuses the duplicates before
    any script runs: dropped, victim1 untouched."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 extra=[("To", "<sip:victim1@127.0.0.1>"),
                        ("Call-ID", V1_CALLID),
                        ("CSeq", "999 REGISTER")])


@case("4475-3.3.9-mcl01-two-content-lengths", DROP)
def _(ctx):
    """Two Content-Length values (0 and 193): the body length is unknown;
    Kamailio's strict header parser refuses a duplicate Content-Length,
    and the message is dropped."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300,
                 extra=[("Content-Length", "0")], cl=193)


@case("4475-3.3.12-cparam01-contact-param-not-uri-param", 200,
      stores=own("sip:+19725552222@gw1.example.net"))
def _(ctx):
    """An addr-spec Contact: ';unknownparam' is a contact parameter, not
    part of the bound URI (RFC 3261 20.10)."""
    return build(ctx, contacts=["sip:+19725552222@gw1.example.net"
                                ";unknownparam"], expires=300)


@case("4475-3.3.13-cparam02-uri-param", 200,
      stores=own("sip:+19725552222@gw1.example.net;unknownparam"))
def _(ctx):
    """Inside <> the parameter belongs to the URI and is bound with it."""
    return build(ctx, contacts=["<sip:+19725552222@gw1.example.net"
                                ";unknownparam>"], expires=300)


@case("4475-3.3.14-regescrt-escaped-route-header", 200,
      stores=own("sip:user@example.com?Route=%3Csip:sip.example.com%3E"))
def _(ctx):
    """A contact URI with an escaped Route header, compact m: and L:: a
    valid registration of that URI."""
    return raw(ctx, """
REGISTER %(ruri)s SIP/2.0
To: %(aor)s
From: %(aor)s;tag=8
Max-Forwards: 70
Call-ID: %(callid)s
CSeq: 14398234 REGISTER
Via: %(via)s
M: <sip:user@example.com?Route=%%3Csip:sip.example.com%%3E>
L:0

""")


# oversized ------------------------------------------------------------------

@case("oversize-60kb-contact-uri", 400)
def _(ctx):
    """A 60 KB Contact URI: longer than contact_max_size (512 by default,
    at most 1024, Kamailio's MAX_URI_SIZE): 400."""
    return build(ctx, to="sip:victim1@127.0.0.1", expires=300,
                 contacts=["<sip:victim1@127.0.0.1:5002;x=%s>" % (
                     "a" * 60000)])


@case("oversize-10000-char-contact-user", 400)
def _(ctx):
    """A 10,000-character user in a Contact URI: longer than a bound URI
    may be (contact_max_size): 400."""
    return build(ctx, contacts=["<sip:%s@127.0.0.1:5101>" % ("u" * 10000)],
                 expires=300)


@case("oversize-10000-char-aor-user", 400)
def _(ctx):
    """A 10,000-character AoR: no key that long (10.3 step 5): 400."""
    return build(ctx, to="sip:%s@127.0.0.1" % ("v" * 10000),
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("oversize-10000-char-invite-ruri-user", 404)
def _(ctx):
    """INVITE to a 10,000-character user: not found."""
    u = "w" * 10000
    return build(ctx, "INVITE", ruri=ctx.invite_ruri(u),
                 to="sip:%s@127.0.0.1" % u)


@case("oversize-50kb-user-agent", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """A 50 KB User-Agent: bound, without a User-Agent (as stock keeps
    none of 255 bytes or more: usrloc's column is varchar(255))."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 extra=[("User-Agent", "x" * 50000)])


@case("oversize-10kb-call-id", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """A 10 KB Call-ID: RFC 3261 sets no bound, and a binding holds up to
    64 KB of strings: bound (max_bindings bounds the total)."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 callid="c" * 10000)


@case("oversize-500-contacts-udp", 200,
      stores=lambda ctx: {ctx.user: [ctx.ct(i) for i in range(500)]})
def _(ctx):
    """500 contacts in one datagram (max_contacts 0): all bound, and the
    200 OK lists them all (RFC 3261 10.3 step 8)."""
    return build(ctx, contacts=[",".join("<%s>" % ctx.ct(i)
                                         for i in range(500))],
                 expires=300)


@case("oversize-2500-contacts-udp", 503)
def _(ctx):
    """2,500 contacts in one datagram: more bindings than one AoR may hold
    (1024, what one 200 OK can list, RFC 3261 10.3 step 8) even with
    max_contacts 0: 503, nothing bound, refused before any work under a
    lock."""
    return build(ctx, contacts=[",".join("<sip:%d@127.0.0.1>" % i
                                         for i in range(2500))],
                 expires=300)


@case("oversize-1100-contacts-tcp", 503, transport="TCP")
def _(ctx):
    """The same over TCP, 1,100 contacts in one 12 KB request (a larger
    one overruns Kamailio's TCP read buffer, see below): 503."""
    return build(ctx, contacts=[",".join("<sip:%d@a>" % i
                                         for i in range(1100))],
                 expires=300)


@case("oversize-90kb-request-tcp", DROP, transport="TCP")
def _(ctx):
    """4,000 contacts (90 KB) over TCP: larger than Kamailio's TCP read
    buffer; the core logs "buffer overrun" and closes the connection
    without a reply."""
    return build(ctx, contacts=[",".join("<%s>" % ctx.ct(i)
                                         for i in range(4000))],
                 expires=300)


@case("oversize-100kb-header-tcp", DROP, transport="TCP")
def _(ctx):
    """A 100 KB header over TCP: past Kamailio's TCP read buffer, the
    connection is closed without a reply."""
    return build(ctx, to="sip:victim1@127.0.0.1", expires=300,
                 contacts=["<%s>" % ctx.ct(user="victim1")],
                 extra=[("X-Junk", "j" * 100000)])


# Expires ---------------------------------------------------------------------

@case("expires-two-conflicting-headers-to-victim", 400)
def _(ctx):
    """Expires: 300 and Expires: 0: Expires is single-valued (RFC 3261
    7.3.1, 20.19); which one counts is unknowable, so 400 and victim1's
    binding stays as it was."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["<%s>" % DEAD],
                 extra=[("Expires", "300"), ("Expires", "0")])


@case("expires-two-equal-headers", 400)
def _(ctx):
    """Two Expires headers, even equal ones: Expires is single-valued
    (RFC 3261 7.3.1): 400."""
    return build(ctx, contacts=["<%s>" % ctx.ct()],
                 extra=[("Expires", "300"), ("Expires", "300")])


@case("expires-comma-list", 400)
def _(ctx):
    """A comma list in Expires is not delta-seconds (RFC 3261 20.19):
    400."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires="300, 600")


@case("expires-contact-param-twice", 400)
def _(ctx):
    """expires=300;expires=0 on one contact: conflicting, refused."""
    return build(ctx, contacts=["<%s>;expires=300;expires=0" % ctx.ct()])


@case("expires-2^32-on-victim", 400)
def _(ctx):
    """Expires 2**32 on victim1's binding: delta-seconds are 32-bit
    (RFC 3261 20.19); refused, the binding keeps its expiry."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % DEAD], expires="4294967296")


# encodings and NUL bytes -----------------------------------------------------

@case("utf8-display-name", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """UTF-8 in quoted display names is valid (RFC 3261 25.1,
    UTF8-NONASCII): bound."""
    return build(ctx, to='"J\u00f6rg \u65e5\u672c" <%s>' % ctx.aor,
                 contacts=['"J\u00f6rg \u65e5\u672c" <%s>' % ctx.ct()],
                 expires=300)


@case("invalid-utf8-display-name", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """Bytes that are not UTF-8 in a display name: the registrar neither
    stores nor interprets display names, so the binding is made."""
    return build(ctx, contacts=['"\udcff\udcfe\udcc0\udcaf" <%s>' % ctx.ct()],
                 expires=300)


@case("raw-utf8-in-contact-user", 200,
      stores=own(lambda c: "sip:j\u00f6rg@127.0.0.1:5101"))
def _(ctx):
    """Unescaped UTF-8 in a contact user: Kamailio's URI parser is
    lenient and the URI is bound as sent, byte for byte."""
    return build(ctx, contacts=["<sip:j\u00f6rg@127.0.0.1:5101>"],
                 expires=300)


@case("escaped-aor-queries-the-same-aor", 200,
      check=lambda r, ctx: sorted(r.contact_uris()) == sorted(
          ["sip:victim1@127.0.0.1:%d" % ctx.uas_port, DEAD]))
def _(ctx):
    """%76ictim1 is victim1 (RFC 3261 10.3 step 5: escapes are unescaped
    before the lookup): a query lists victim1's bindings."""
    return build(ctx, to="sip:%76ictim1@127.0.0.1")


@case("escaped-invite-reaches-the-same-aor", 200)
def _(ctx):
    """INVITE sip:%76ictim%31@...: lookup() unescapes as save() does,
    so the call reaches victim1's UAS."""
    return build(ctx, "INVITE", ruri=ctx.invite_ruri("%76ictim%31"),
                 to="sip:victim1@127.0.0.1")


@case("bad-escape-in-aor", 400)
def _(ctx):
    """%ZZ is not an escape: the AoR has no canonical form: 400."""
    return build(ctx, to="sip:%%ZZ%s@127.0.0.1" % ctx.user,
                 contacts=["<%s>" % ctx.ct()], expires=300)


@case("nul-byte-in-user-agent", 200, stores=own(lambda c: c.ct()))
def _(ctx):
    """A NUL inside a header value the registrar only copies: bound."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 extra=[("User-Agent", "ab\x00cd")])


@case("nul-byte-in-contact-uri", 400)
def _(ctx):
    """A NUL inside a Contact URI: a URI holds no control character
    (RFC 3261 25.1); never bound (lookup would forward to it)."""
    return build(ctx, contacts=["<sip:%s\x00evil@127.0.0.1:5101>" % ctx.user],
                 expires=300)


@case("nul-byte-in-to-user-of-victim", DROP)
def _(ctx):
    """To: sip:victim1<NUL>x: the core's To parser stops at the NUL and
    fails, so the request is dropped; never victim1 by C-string
    truncation."""
    return build(ctx, to="sip:victim1\x00x@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1")], expires=300)


@case("nul-byte-in-header-name", DROP)
def _(ctx):
    """A NUL inside a header name: not a header line for Kamailio's core,
    which drops the request."""
    return build(ctx, contacts=["<%s>" % ctx.ct()], expires=300,
                 extra=[("X-Nu\x00ll", "1")])


# wildcard --------------------------------------------------------------------

@case("star-with-expires-300-on-victim", 400)
def _(ctx):
    """RFC 3261 10.3 step 6: '*' only with Expires: 0."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["*"],
                 expires=300)


@case("star-without-expires-on-victim", 400)
def _(ctx):
    """'*' without Expires: the default expiry is not 0 (RFC 3261 10.3
    step 6): 400, victim1 keeps its bindings."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["*"])


@case("star-and-contact-in-one-header-on-victim", 400)
def _(ctx):
    """'*' and a contact in one header: '*' only alone (10.3 step 6)."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["*, <%s>" % ctx.ct(user="victim1")], expires=0)


@case("star-and-contact-in-two-headers-on-victim", 400)
def _(ctx):
    """A contact header and a '*' header: '*' only alone."""
    return build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % ctx.ct(user="victim1"), "*"], expires=0)


@case("star-with-param-on-victim", 400)
def _(ctx):
    """'*' takes no parameters (RFC 3261 20.10)."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["*;expires=0"],
                 expires=0)


@case("star-with-victims-call-id-and-lower-cseq", 400)
def _(ctx):
    """A valid '*' removal replayed with victim1's Call-ID and a lower
    CSeq: RFC 3261 10.3 step 6/7 aborts it."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["*"], expires=0,
                 callid=V1_CALLID, cseq="%d REGISTER" % (V1_CSEQ - 1))


@case("star-in-invite", 200)
def _(ctx):
    """Contact: * in an INVITE to victim1 is the caller's problem, not the
    registrar's: the call reaches victim1's UAS."""
    return build(ctx, "INVITE", ruri=ctx.invite_ruri("victim1"),
                 to="sip:victim1@127.0.0.1", contacts=["*"])


# CSeq -----------------------------------------------------------------------

@case("cseq-non-numeric-on-victim", 400)
def _(ctx):
    """CSeq 'abc': no sequence number (RFC 3261 20.16): 400, victim1's
    binding not removed."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="abc REGISTER",
                 contacts=["<%s>" % DEAD], expires=0)


@case("cseq-2^32-on-victim", 400)
def _(ctx):
    """4294967296 is no 32-bit number (RFC 3261 8.1.1.5)."""
    return build(ctx, to="sip:victim1@127.0.0.1", callid=V1_CALLID,
                 cseq="4294967296 REGISTER", contacts=["<%s>" % DEAD],
                 expires=0)


@case("cseq-negative-on-victim", 400)
def _(ctx):
    """CSeq -1 with victim1's Call-ID: not a 32-bit unsigned number
    (RFC 3261 8.1.1.5): 400."""
    return build(ctx, to="sip:victim1@127.0.0.1", callid=V1_CALLID,
                 cseq="-1 REGISTER", contacts=["<%s>" % DEAD], expires=0)


@case("cseq-missing-number-on-victim", DROP)
def _(ctx):
    """'CSeq: REGISTER' without a number: the core's CSeq parser fails,
    and no reply can be built without a CSeq: dropped."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="REGISTER",
                 contacts=["<%s>" % DEAD], expires=0)


@case("cseq-method-options-on-victim", 400)
def _(ctx):
    """CSeq method differs from the request method (RFC 3261 8.1.1.5)."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="5000 OPTIONS",
                 contacts=["<%s>" % DEAD], expires=0)


@case("cseq-lowercase-method-on-victim", 400)
def _(ctx):
    """Methods are case-sensitive (RFC 3261 7.1): 'register' is not
    REGISTER."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="5000 register",
                 contacts=["<%s>" % DEAD], expires=0)


@case("cseq-equal-same-call-id-on-victim", 400)
def _(ctx):
    """A replay with victim1's Call-ID and CSeq removing its binding: not
    higher, aborted (RFC 3261 10.3 step 7)."""
    return build(ctx, to="sip:victim1@127.0.0.1", callid=V1_CALLID,
                 cseq="%d REGISTER" % V1_CSEQ, contacts=["<%s>" % DEAD],
                 expires=0)


@case("cseq-decreasing-same-call-id-on-victim", 400)
def _(ctx):
    """victim2's Call-ID with a lower CSeq, removing its instance
    binding: RFC 3261 10.3 step 7 aborts the update: 400."""
    return build(ctx, to="sip:victim2@127.0.0.1", callid=V2_CALLID,
                 cseq="%d REGISTER" % (V2_CSEQ - 100),
                 contacts=['<sip:victim2@127.0.0.1:5003>;+sip.instance="%s"'
                           ';reg-id=1' % V2_INSTANCE], expires=0)


# Call-ID ---------------------------------------------------------------------

@case("callid-missing-on-victim", DROP)
def _(ctx):
    """No Call-ID: the core cannot build a reply without one (RFC 3261
    8.1.1 makes it mandatory): dropped."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["<%s>" % DEAD],
                 expires=0, drop=("Call-ID",))


@case("callid-empty-on-victim", 400)
def _(ctx):
    """An empty Call-ID (a blank): no identifier (RFC 3261 20.8): 400."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["<%s>" % DEAD],
                 expires=0, callid=" ")


@case("callid-duplicate-headers-on-victim", DROP)
def _(ctx):
    """Two Call-IDs, the first victim1's: Kamailio's strict parser refuses
    a duplicate Call-ID before any script runs: dropped."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["<%s>" % DEAD],
                 expires=0, callid=V1_CALLID, cseq="5000 REGISTER",
                 extra=[("Call-ID", "other@127.0.0.1")])


@case("to-duplicate-headers-victim-and-own", DROP)
def _(ctx):
    """Two To headers, victim1's first: the core's strict parser
    refuses the duplicate: dropped; victim1 gains nothing."""
    return build(ctx, to="sip:victim1@127.0.0.1", contacts=["<%s>" % DEAD],
                 expires=0, extra=[("To", "<%s>" % ctx.aor)])


# other contact abuses --------------------------------------------------------

@case("contact-port-99999", 400)
def _(ctx):
    """Port 99999 is no port (RFC 3261 25.1): 400."""
    return build(ctx, contacts=["<sip:%s@127.0.0.1:99999>" % ctx.user],
                 expires=300)


@case("contact-without-scheme", 400)
def _(ctx):
    """<127.0.0.1:5101> is no SIP URI: 400."""
    return build(ctx, contacts=["<127.0.0.1:5101>"], expires=300)


@case("contact-ipv6-unclosed", 400)
def _(ctx):
    """An IPv6 reference without its ']': the URI does not parse: 400."""
    return build(ctx, contacts=["<sip:%s@[::1:5101>" % ctx.user],
                 expires=300)


@case("contact-reg-id-0", 400)
def _(ctx):
    """reg-id is 1..2**31-1 (RFC 5626 4.2)."""
    return build(ctx, contacts=['<%s>;+sip.instance="<urn:uuid:1>";reg-id=0'
                                % ctx.ct()], expires=300)


@case("truncated-message-no-empty-line", DROP)
def _(ctx):
    """Headers never end (no CRLF CRLF): incomplete, dropped."""
    data = build(ctx, to="sip:victim1@127.0.0.1",
                 contacts=["<%s>" % DEAD], expires=0)
    return data[:data.index(b"\r\n\r\n")]


@case("register-over-tcp-to-victim-with-bad-cseq", 400, transport="TCP")
def _(ctx):
    """Over TCP as over UDP: a bad CSeq is a 400 on the connection."""
    return build(ctx, to="sip:victim1@127.0.0.1", cseq="x REGISTER",
                 contacts=["<%s>" % DEAD], expires=0)


@case("escnull-over-tcp", 200, transport="TCP",
      stores=own("sip:%00@127.0.0.1:5101"))
def _(ctx):
    """An escaped NUL in a contact URI over TCP: escaped, it is no
    control byte (RFC 4475 3.1.1.4): bound, as over UDP."""
    return build(ctx, contacts=["<sip:%00@127.0.0.1:5101>"], expires=300)


# -- the test ---------------------------------------------------------------

@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hostile_message(hk, intact, uas, user, c):
    """Each message gets the reply given (or none: DROP); what it is meant
    to bind is bound, nothing else is (the intact fixture)."""
    conn = sip.TcpClient(hk.port) if c.transport == "TCP" else hk.client()
    try:
        ctx = Ctx(hk.port, conn.port, c.transport, user)
        ctx.uas_port = uas.port
        stores = c.stores(ctx) if c.stores else {}
        intact.extend(stores)
        intact.append(user)
        r = exchange(hk, ctx, conn, c.make(ctx), c.expect)
    finally:
        conn.close()
    if c.expect is DROP:
        assert r is None, "expected no reply, got:\n%s" % r.raw
        return
    assert r is not None, "no reply (expected %d)" % c.expect
    assert r.status == c.expect, r.raw[:2000]
    if c.expect >= 300 and r.get("cseq", "").endswith("REGISTER"):
        assert r.has("P-Registrar-Error"), r.raw[:2000]
    if c.check:
        assert c.check(r, ctx), r.raw[:2000]
    for u, uris in stores.items():
        if len(uris) > 100:
            # more than aor.show lists: the 200 OK and the totals
            assert sorted(r.contact_uris()) == sorted(uris)
            assert hk.count()[1] == intact_count(hk) + len(uris)
            continue
        got = sorted(b["contact"] for b in shown(hk, u))
        assert got == sorted(uris), "bindings of %s" % u
