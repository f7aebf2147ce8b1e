"""Assertions shared by the integration tests."""


def assert_ok(reply):
    assert reply.status == 200, "expected 200, got %s\n%s" % (reply.first_line,
                                                             reply.raw)


def assert_error(reply, code=None, lo=400, hi=699):
    """An error reply: the given code (or one in lo..hi), with a
    P-Registrar-Error header; a 5xx also carries Retry-After."""
    if code is not None:
        assert reply.status == code, "expected %d, got %s\n%s" % (
            code, reply.first_line, reply.raw)
    else:
        assert lo <= reply.status <= hi, "expected %d..%d, got %s\n%s" % (
            lo, hi, reply.first_line, reply.raw)
    assert reply.has("P-Registrar-Error"), \
        "error reply without P-Registrar-Error:\n%s" % reply.raw
    if 500 <= reply.status < 600:
        assert reply.has("Retry-After"), \
            "5xx reply without Retry-After:\n%s" % reply.raw


def contacts_of(reply):
    """{uri: Contact} of a 200 OK."""
    assert_ok(reply)
    return {c.uri: c for c in reply.contacts()}


def bindings(client, aor):
    """{uri: Contact} of the current bindings of aor, by a query REGISTER
    (RFC 3261 10.2.3: a REGISTER without Contact lists the bindings)."""
    return contacts_of(client.query(aor))


def assert_bindings(client, aor, uris):
    got = bindings(client, aor)
    assert sorted(got) == sorted(uris), "bindings of %s: %s, expected %s" % (
        aor, sorted(got), sorted(uris))
    return got


def assert_alive(kam):
    """The server still answers SIP and RPC."""
    assert kam.alive(), "kamailio exited:\n" + kam.log_tail()
    with kam.client() as c:
        assert c.options(timeout=2.0).status == 200
    kam.kamcmd("core.uptime")
