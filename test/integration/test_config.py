"""The project's own etc/kamailio.cfg: digest authentication of REGISTER
and of calls, only one's own AoR, the RPC on an owner-only unix socket.

Kamailio runs the real config (defines LISTEN, AOR_SO, DBURL, CTL_SOCK as
`make run` gives them) on a free port, with a copy of etc/db (the kam_cfg
fixture of conftest.py, kam.etc_kamailio). Users:
alice/alice-secret, bob/bob-secret, realm 127.0.0.1 (RFC 3261 22.4,
RFC 2617 3.2.2).
"""

import hashlib
import os
import re
import stat

import pytest

import kam as kammod
import siphash
import sip
from checks import assert_ok
from test_snapshot import list_pages

REALM = "127.0.0.1"


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def parse_challenge(value):
    assert value.lower().startswith("digest "), value
    return {k.lower(): v1 or v2 for k, v1, v2 in
            re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))', value[7:])}


def authorization(ch, user, password, method, uri):
    """An Authorization header value answering challenge ch (RFC 2617)."""
    ha1 = md5("%s:%s:%s" % (user, ch["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    fields = [("username", user), ("realm", ch["realm"]),
              ("nonce", ch["nonce"]), ("uri", uri)]
    qops = [q.strip() for q in ch.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce, nc = sip.token(12), "00000001"
        resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, ch["nonce"], nc, cnonce, ha2))
        extra = 'qop=auth, nc=%s, cnonce="%s"' % (nc, cnonce)
    else:
        resp = md5("%s:%s:%s" % (ha1, ch["nonce"], ha2))
        extra = None
    fields.append(("response", resp))
    if "opaque" in ch:
        fields.append(("opaque", ch["opaque"]))
    value = "Digest " + ", ".join('%s="%s"' % kv for kv in fields)
    value += ", algorithm=MD5"
    if extra:
        value += ", " + extra
    return value


def register_with_auth(kam, user, password, contact):
    """REGISTER, answer the 401 challenge; return (401 reply, final reply)."""
    aor = "sip:%s@%s" % (user, REALM)
    ruri = "sip:%s:%d" % (REALM, kam.port)
    with kam.client() as c:
        cid = sip.token(16)
        first = c.register(aor, [contact], expires=300, call_id=cid,
                           ruri=ruri)
        if first.status != 401:
            return first, None
        ch = parse_challenge(first.get("WWW-Authenticate"))
        auth = authorization(ch, user, password, "REGISTER", ruri)
        second = c.register(aor, [contact], expires=300, call_id=cid,
                            ruri=ruri, headers=[("Authorization", auth)])
        return first, second


def test_register_without_credentials_is_challenged(kam_cfg):
    """RFC 3261 22.4 / 10.3 step 2: an unauthenticated REGISTER gets 401
    with a Digest WWW-Authenticate for realm 127.0.0.1."""
    with kam_cfg.client() as c:
        r = c.register("sip:alice@%s" % REALM,
                       ["sip:alice@127.0.0.1:5301"], expires=300,
                       ruri="sip:%s:%d" % (REALM, kam_cfg.port))
    assert r.status == 401, r.raw
    ch = parse_challenge(r.get("WWW-Authenticate"))
    assert ch["realm"] == REALM
    assert ch.get("nonce")


def test_register_with_correct_digest_is_200_and_stored(kam_cfg):
    """RFC 2617 3.2.2: the right digest response for alice gets 200 and
    the binding is stored."""
    contact = "sip:alice@127.0.0.1:5302"
    first, second = register_with_auth(kam_cfg, "alice", "alice-secret",
                                       contact)
    assert first.status == 401, first.raw
    assert_ok(second)
    assert contact in second.contact_uris(), second.raw
    shown = kam_cfg.show("sip:alice@%s" % REALM)
    assert shown and contact in [b["contact"].strip("<>") for b in shown]


def test_register_with_wrong_password_is_refused(kam_cfg):
    """A wrong password does not register: 401/403, nothing stored."""
    contact = "sip:bob@127.0.0.1:5303"
    first, second = register_with_auth(kam_cfg, "bob", "not-bobs-secret",
                                       contact)
    assert first.status == 401, first.raw
    assert second.status in (401, 403), second.raw
    shown = kam_cfg.show("sip:bob@%s" % REALM) or []
    assert contact not in [b["contact"].strip("<>") for b in shown]


# A drop-in replacement must load with every stock modparam a cfg may set.
STOCK_MODPARAMS = {
    "default_expires": 1800, "min_expires": 30, "min_expires_mode": 1,
    "max_expires": 7200, "max_contacts": 5, "max_contacts_policy": "reject",
    "max_bindings": 100000, "default_q": -1, "append_branches": 1,
    "case_sensitive": 1, "use_domain": 0, "hash_size": 12,
    "timer_interval": 30, "use_path": 1, "path_mode": 2,
    "received_avp": "$avp(rcv)", "received_param": "rcv",
    "method_filtering": 1, "retry_after": 30, "nat_bflag": 6,
    "handle_lost_tcp": 1, "close_expired_tcp": 1,
}


def test_every_stock_modparam_is_accepted(kamailio_factory, user):
    """The module loads with all the registrar/usrloc modparams of the
    brief set to valid values, and applies them (default_expires=1800)."""
    kam = kamailio_factory(modparams=STOCK_MODPARAMS)
    with kam.client() as c:
        r = c.register(kam.aor(user), ["sip:%s@127.0.0.1:5301" % user])
        assert_ok(r)
        assert 1799 <= r.contact("sip:%s@127.0.0.1:5301" % user).expires <= 1800


# Every modparam of aor_mod.c's params table with absurd values: the
# module (or, for a value of the wrong type, Kamailio's core) refuses it
# and Kamailio does not start. db_url is the one left out: the module does
# not use it (it warns), so no value of it is wrong.
BAD_MODPARAMS = [
    ("default_expires", -1),
    ("min_expires", -5),
    ("min_expires_mode", 7),
    ("min_expires_mode", -1),
    ("max_expires", -1),
    ("max_contacts", -1),
    ("max_contacts", 1025),
    ("max_contacts_policy", "evict_newest"),
    ("max_contacts_policy", ""),
    ("max_contacts_policy", 5),
    ("max_bindings", -1),
    ("default_q", 1001),
    ("default_q", -2),
    ("append_branches", 2),
    ("case_sensitive", -1),
    ("use_domain", 2),
    ("hash_size", 0),
    ("hash_size", -1),
    ("hash_size", 25),
    ("hash_size", 2147483647),
    ("hash_size", "abc"),
    ("hash_key", "000102030405060708090a0b0c0d0e0"),    # 31 digits
    ("hash_key", "000102030405060708090a0b0c0d0e0f0"),  # 33 digits
    ("hash_key", "000102030405060708090a0b0c0d0e0g"),   # not hex
    ("hash_key", "0x0102030405060708090a0b0c0d0e0f"),
    ("hash_key", 5),
    ("timer_interval", 0),
    ("timer_interval", -1),
    ("timer_interval", 86401),
    ("use_path", 5),
    ("path_mode", 3),
    ("path_mode", -1),
    ("received_avp", "notavar"),
    ("received_avp", "$Ri"),
    ("received_param", "a b"),
    ("received_param", "rcv;x=1"),
    ("method_filtering", 2),
    ("retry_after", -1),
    ("retry_after", 86401),
    ("nat_bflag", 32),
    ("nat_bflag", -2),
    ("nat_source", 3),
    ("timer_procs", -1),
    ("db_mode", -1),
    ("db_mode", 5),
    ("gruu_enabled", 2),
    ("gruu_secret", "0123456789abcde"),  # 15 bytes
    ("event_callback", "no such function!"),
    ("snapshot_file", "/nonexistent-aor-dir/aor.xml"),
    ("snapshot_file", "/"),
    ("snapshot_interval", -1),
    ("snapshot_interval", 86401),
    ("snapshot_interval", 2147483647),
    ("shm_reserve", -1),
    ("shm_reserve", 91),
    ("preload", "no such table!"),
    ("preload", ""),
    ("handle_lost_tcp", 2),
    ("handle_lost_tcp", -1),
    ("close_expired_tcp", 2),
    ("xavp_cfg", "reg=>x"),
    ("xavp_rcd", "no such!"),
    ("xavp_rcd_mask", -1),
    ("xavp_rcd_mask", 32),
    ("path_use_received", 2),
    ("default_expires_range", -1),
    ("default_expires_range", 101),
    ("expires_range", 101),
    ("sock_flag", 32),
    ("contact_max_size", 0),
    ("contact_max_size", 1025),
    ("realm_prefix", "sip prefix"),
    ("use_expired_contacts", 2),
    ("lookup_filter_mode", 4),
    ("lookup_filter_mode", -1),
    ("path_check_local", 2),
    ("sock_hdr_name", "Sock Info:"),
    ("sock_mode", 2),
    ("desc_time_order", 2),
    ("cseq_delay", -1),
    ("cseq_delay", 86401),
    ("matching_mode", 4),
    ("matching_mode", -1),
    ("skip_remote_socket", 2),
    ("xavp_contact", "no such!"),
    ("expires_type", 2),
    ("rm_expired_delay", -1),
    ("ka_from", "not a uri"),
    ("ka_domain", "a b"),
    ("ka_method", "OPT IONS"),
] + [("%s_column" % c, "no such!") for c in (
    "ruid", "user", "domain", "contact", "expires", "q", "callid", "cseq",
    "flags", "cflags", "user_agent", "received", "path", "socket", "methods",
    "instance", "reg_id", "server_id", "connection_id", "keepalive",
    "partition")]
# db_url: any string; ka_logmsg: parsed only with ka_mode on, as stock
# (test_bad_ka_logmsg_refuses_to_start_with_keepalives_on)
NOT_CHECKED = {"db_url", "ka_logmsg"}


def range_rows():
    """(name, lo, hi) of each row of params.c's int_params table; a bound
    that is a macro (AOR_INT_MAX, AOR_REC_MAX) as None."""
    path = os.path.join(kammod.ROOT, "modules", "aor", "params.c")
    with open(path) as f:
        text = f.read()
    table = text[text.index("int_params[] = {"):]
    table = table[:table.index("};")]
    num = (lambda v: int(v) if re.match(r"-?\d+$", v) else None)
    return [(n, num(lo), num(hi)) for n, lo, hi in re.findall(
        r'\{"(\w+)", &aor_(?:db_)?params\.\w+, (-?\w+), (-?\w+)\}', table)]


def just_outside():
    """lo - 1 and hi + 1 of every range whose bound is a number."""
    for name, lo, hi in range_rows():
        if lo is not None:
            yield name, lo - 1
        if hi is not None:
            yield name, hi + 1


# every bound of params.c, one step outside it
BAD_MODPARAMS += [b for b in just_outside() if b not in BAD_MODPARAMS]


def modparam_names(kind="PARAM_"):
    """The names in aor_mod.c's params table (of kind: PARAM_INT...)."""
    path = os.path.join(kammod.ROOT, "modules", "aor", "aor_mod.c")
    with open(path) as f:
        text = f.read()
    table = text[text.index("param_export_t params[]"):]
    table = table[:table.index("{0, 0, 0}")]
    return set(re.findall(r'\{"(\w+)", %s' % kind, table))


def test_bad_modparam_list_covers_every_modparam():
    """Every modparam of the module is tried with an absurd value below."""
    names = modparam_names()
    assert names, "no params table found in aor_mod.c"
    assert names - NOT_CHECKED == {n for n, _ in BAD_MODPARAMS}


def test_every_integer_modparam_has_a_range():
    """params.c checks every PARAM_INT modparam against a row of its
    int_params table, the ranges just_outside() tries."""
    assert {n for n, _, _ in range_rows()} == modparam_names("PARAM_INT")


@pytest.mark.parametrize("name,value", BAD_MODPARAMS,
                         ids=["%s=%s" % (n, v) for n, v in BAD_MODPARAMS])
def test_bad_modparam_refuses_to_start(tmp_path, name, value):
    """STYLE.md: aor_params_check() rejects every bad modparam and the
    module refuses to load: Kamailio exits non-zero, and an error line of
    its log names the parameter."""
    if kammod.IMPL == "stock":
        pytest.fail("checks the aor module's parameter validation")
    k = kammod.Kamailio(str(tmp_path), modparams={name: value})
    with pytest.raises(RuntimeError, match="exited") as e:
        k.start()
    k.stop()
    m = re.search(r"exited with (-?\d+)", str(e.value))
    assert m and int(m.group(1)) != 0, str(e.value)[:300]
    with open(k.log_path, errors="replace") as f:
        errors = [line for line in f if "ERROR" in line or "CRIT" in line]
    assert any(name in line for line in errors), "".join(errors)[-2000:]


def test_min_expires_above_max_expires_refuses_to_start(tmp_path):
    """min_expires above max_expires: no interval could be granted."""
    if kammod.IMPL == "stock":
        pytest.fail("checks the aor module's parameter validation")
    k = kammod.Kamailio(str(tmp_path), modparams={"min_expires": 100,
                                                  "max_expires": 50})
    with pytest.raises(RuntimeError, match="exited"):
        k.start()
    k.stop()
    with open(k.log_path, errors="replace") as f:
        assert "min_expires=100 above max_expires=50" in f.read()


def test_siphash_helper_matches_the_published_vectors():
    """siphash.py, which the layout tests compute slots with, gives the
    SipHash-1-3 vectors test/unit/test_hash.c checks hash.c against (key
    all zeros, message 00 01 02 ...)."""
    siphash.self_check()


def test_hash_key_fixes_the_slot_of_each_aor(kamailio_factory, user):
    """modparam hash_key: the slots are those SipHash-1-3 under that key
    gives (upper- and lower-case digits alike). Five AoRs that share a slot
    by siphash.py come in one page of aor.list with limit 1 (a page is one
    slot), five that do not come each alone."""
    if kammod.IMPL == "stock":
        pytest.fail("hash_key is the aor module's")
    key = "00112233445566778899AABBccddeeff"

    def slot(name):
        return siphash.aor_hash(key, name) & 1023  # hash_size 10
    names = ["%s-%d" % (user, i) for i in range(20000)]
    by_slot = {}
    for n in names:
        by_slot.setdefault(slot(n), []).append(n)
    group = next(v for v in by_slot.values() if len(v) >= 5)[:5]
    alone = [v[0] for s, v in sorted(by_slot.items())
             if s != slot(group[0])][:5]
    k = kamailio_factory(modparams={"hash_key": key, "hash_size": 10})
    with k.client() as c:
        for n in group + alone:
            assert_ok(c.register(k.aor(n), ["sip:%s@127.0.0.1:5301" % n],
                                 expires=300))
    pages = list_pages(k, 1, user)
    assert sorted(map(sorted, pages)) == sorted(
        [sorted(group)] + [[n] for n in alone]), pages


def test_register_of_another_users_aor_is_403(kam_cfg):
    """RFC 3261 10.3 step 3: alice, with her valid credentials, may not
    register bob's AoR: 403, and bob has no binding."""
    ruri = "sip:%s:%d" % (REALM, kam_cfg.port)
    contact = "sip:mallory@127.0.0.1:5304"
    to = "sip:bob@%s" % REALM
    with kam_cfg.client() as c:
        cid = sip.token(16)
        first = c.register(to, [contact], expires=300, call_id=cid, ruri=ruri)
        assert first.status == 401, first.raw
        ch = parse_challenge(first.get("WWW-Authenticate"))
        auth = authorization(ch, "alice", "alice-secret", "REGISTER", ruri)
        second = c.register(to, [contact], expires=300, call_id=cid,
                            ruri=ruri, headers=[("Authorization", auth)])
        assert second.status == 403, second.raw
    shown = kam_cfg.show("sip:bob@%s" % REALM) or []
    assert contact not in [b["contact"].strip("<>") for b in shown]


def test_call_without_credentials_is_challenged(kam_cfg):
    """Every initial request, not only REGISTER, is authenticated: an
    INVITE to bob without credentials gets 407 (RFC 3261 22.3)."""
    with kam_cfg.client() as c:
        r = c.invite("sip:bob@%s:%d" % (REALM, kam_cfg.port))
    assert r.status == 407, r.raw
    assert parse_challenge(r.get("Proxy-Authenticate"))["realm"]


def test_rpc_socket_is_local_and_owner_only(kam_cfg):
    """kamcmd reaches Kamailio only through a unix socket of mode 0600."""
    st = os.stat(kam_cfg.ctl)
    assert stat.S_ISSOCK(st.st_mode)
    assert oct(st.st_mode & 0o777) == "0o600"
    assert kam_cfg.ctl_uri.startswith("unix:")


def test_bad_ka_logmsg_refuses_to_start_with_keepalives_on(tmp_path):
    """ka_logmsg is a pv format, parsed (as stock's) only when ka_mode
    turns keepalives on: then a bad one refuses the start, naming it; with
    ka_mode 0 it is not looked at, as with stock."""
    if kammod.IMPL == "stock":
        pytest.fail("checks the aor module's parameter validation")
    k = kammod.Kamailio(str(tmp_path / "on"),
                        modparams={"ka_mode": 1, "ka_logmsg": "$(bad"})
    with pytest.raises(RuntimeError, match="exited"):
        k.start()
    k.stop()
    with open(k.log_path, errors="replace") as f:
        assert any("ka_logmsg" in line for line in f if "ERROR" in line)
    k = kammod.Kamailio(str(tmp_path / "off"),
                        modparams={"ka_mode": 0, "ka_logmsg": "$(bad"})
    k.start()
    k.stop()
