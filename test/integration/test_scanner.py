"""sipvicious against etc/kamailio.cfg: it learns nothing, registers nothing.

sipvicious (Debian package `sipvicious`) is what scans SIP servers on the
Internet: svwar enumerates extensions by comparing the replies to known and
unknown users, svcrack guesses passwords by answering the digest challenge.
Both run here, bounded in count and time, against the config `make run`
starts (kam.etc_kamailio: users alice and bob):
  - with pike's limit raised (define PIKE_DENSITY), so that every request
    is answered and the replies alone must give nothing away: svwar (REGISTER,
    INVITE, OPTIONS; with --force past its own sanity check) reports no
    extension from a list that holds alice and bob, svcrack finds no
    password in a list without the real ones, nothing gets registered, and
    Kamailio still answers. A control run of svcrack with the real password
    in its list does find it: the negative runs are not blind.
  - as shipped (pike at 16 requests per 2 s per address): a larger svwar
    run is cut short by pike (most requests never answered), learns
    nothing, and Kamailio answers again once the scanner stops.
"""

import os
import re
import shutil
import subprocess

import pytest

import kam as kammod
import sip
from checks import assert_alive

SVWAR = shutil.which("svwar") or shutil.which("sipvicious_svwar")
SVCRACK = shutil.which("svcrack") or shutil.which("sipvicious_svcrack")
pytestmark = pytest.mark.skipif(
    not (SVWAR and SVCRACK),
    reason="sipvicious not installed (tools/install-deps.sh test)")

USERS = ["alice", "bob"]
# extensions a scanner tries: the real users among typical guesses
NAMES = USERS + ["admin", "root", "test", "guest", "operator", "sip",
                 "100", "101", "1000", "1001", "2000", "200", "300",
                 "office", "reception", "voip", "user", "info", "carol",
                 "dave"]
# passwords svcrack tries: common ones and near misses, never the real one
WORDS = ["123456", "password", "alice", "bob", "secret", "alice123",
         "bob-secret1", "Alice-secret", "bob-secret2", "qwerty", "1234",
         "admin", "letmein", "changeme", "bob", "alice-secre"]
RUN_TIMEOUT = 60    # seconds, any one sipvicious run
MAX_SILENCE = 3     # sipvicious stops after this long without a reply


def start_cfg(tmp_path_factory, **defines):
    d = str(tmp_path_factory.mktemp("scan"))
    k = kammod.etc_kamailio(d)
    k.defines.update(defines)
    k.start()
    return k


@pytest.fixture(scope="module")
def open_cfg(tmp_path_factory):
    """etc/kamailio.cfg with pike's limit out of reach."""
    k = start_cfg(tmp_path_factory, PIKE_DENSITY=100000)
    yield k
    k.stop()


@pytest.fixture(scope="module")
def shipped_cfg(tmp_path_factory):
    """etc/kamailio.cfg as shipped."""
    k = start_cfg(tmp_path_factory)
    yield k
    k.stop()


def sipvicious(kam, tool, args, tmp_path):
    """Run one sipvicious tool against kam from 127.0.0.1, bounded; its
    output (stdout and stderr). Its sessions go under tmp_path."""
    env = dict(os.environ, HOME=str(tmp_path))
    cmd = [tool, "-b", "127.0.0.1", "-x", "127.0.0.1",
           "-P", str(sip.free_udp_port()),
           "--maximumtime=%d" % MAX_SILENCE] + args + [
               "udp://127.0.0.1:%d" % kam.port]
    try:
        p = subprocess.run(cmd, env=env, cwd=str(tmp_path),
                           capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s did not finish in %ds: %s" % (tool, RUN_TIMEOUT,
                                                      e.stderr))
    return p.stdout + p.stderr


def wordfile(tmp_path, name, words):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.writelines(w + "\n" for w in words)
    return path


def found_extensions(out):
    """Extensions svwar reports (its log lines and its result table)."""
    found = set(re.findall(r"extension '([^']*)' (?:exists|probably)", out))
    found |= set(re.findall(r"^\|\s*(\S+)\s*\|\s*(?:reqauth|noauth|weird)",
                            out, re.M))
    return found


def cracked(out):
    """{user: password} svcrack reports."""
    found = dict(re.findall(r"The password for (\S+) is (.*)$", out, re.M))
    for user, pw in re.findall(r"^\|\s*(\S+)\s*\|\s*(.*?)\s*\|$", out, re.M):
        if user != "Extension":
            found[user] = pw
    return found


def assert_nothing_registered(kam):
    assert kam.count()[:2] == (0, 0)
    assert kammod.rpc_find(kammod.parse_rpc(kam.kamcmd("aor.list")),
                           "aor") == []


def sl_replies(kam):
    """Replies Kamailio sent statelessly (every challenge is one)."""
    out = kam.kamcmd("stats.get_statistics", "sent_replies")
    return int(re.search(r"sl:sent_replies = (\d+)", out).group(1))


def test_svwar_sanity_check_sees_a_challenge_for_an_unknown_user(
        open_cfg, tmp_path):
    """svwar first asks for a random extension: the reply is the same 401
    challenge alice gets, so svwar gives up ('will not work')."""
    names = wordfile(tmp_path, "names.txt", NAMES)
    out = sipvicious(open_cfg, SVWAR, ["-d", names], tmp_path)
    assert "authentication request for an unknown extension" in out, out
    assert found_extensions(out) == set(), out
    assert_nothing_registered(open_cfg)


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_forced_learns_nothing(open_cfg, tmp_path, method):
    """svwar --force, past its sanity check: alice gets the challenge its
    random unknown extension got, which svwar cannot read either way; it
    reports no extension."""
    names = wordfile(tmp_path, "names.txt", NAMES)
    before = sl_replies(open_cfg)
    out = sipvicious(open_cfg, SVWAR, ["--force", "-m", method, "-d", names],
                     tmp_path)
    assert found_extensions(out) == set(), out
    assert "found nothing" in out, out
    assert sl_replies(open_cfg) - before >= 2, "svwar was not answered"
    assert_nothing_registered(open_cfg)
    assert_alive(open_cfg)


def shape(reply):
    """What a reply tells about the user: status, reason, header names,
    and the challenge without its nonce (fresh for each)."""
    hdrs = tuple(sorted({n for n, _ in reply.headers}))
    ch = reply.get("www-authenticate") or reply.get("proxy-authenticate")
    return (reply.status, reply.reason, hdrs,
            re.sub(r'nonce="[^"]*"', 'nonce=""', ch or ""))


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS",
                                    "MESSAGE", "SUBSCRIBE"])
def test_known_and_unknown_users_get_the_same_replies(open_cfg, method):
    """What svwar and svcrack look at, for every name of the list: without
    credentials, and with a wrong password (for alice and bob) or any
    password (for the others), the replies are the same challenge
    (RFC 3261 22.1; 401 for REGISTER, 407 otherwise) up to the nonce."""
    from test_config import authorization, parse_challenge
    first, second = set(), set()
    ruri_host = "127.0.0.1:%d" % open_cfg.port
    with open_cfg.client() as c:
        for name in NAMES:
            aor = "sip:%s@127.0.0.1" % name
            ruri = ("sip:%s" % ruri_host if method == "REGISTER"
                    else "sip:%s@%s" % (name, ruri_host))
            hdrs = [("Contact", "<sip:%s@127.0.0.1:5999>" % name)]
            cid = sip.token(16)
            data, _, cs = c.request(method, ruri, aor, call_id=cid,
                                    headers=hdrs)
            r = c.transact(data, cid, cs)
            first.add(shape(r))
            field = ("Authorization" if r.status == 401
                     else "Proxy-Authorization")
            ch = parse_challenge(r.get("www-authenticate")
                                 or r.get("proxy-authenticate"))
            auth = authorization(ch, name, "not-the-password", method, ruri)
            data, _, cs = c.request(method, ruri, aor, call_id=cid,
                                    headers=hdrs + [(field, auth)])
            second.add(shape(c.transact(data, cid, cs)))
    assert len(first) == 1, first
    assert len(second) == 1 and second == first, (first, second)
    assert next(iter(first))[0] == (401 if method == "REGISTER" else 407)
    assert_nothing_registered(open_cfg)


# svcrack waits 10 s for stragglers at its end (its socket timeout): two
# runs, a real user and an unknown one; bob's replies are alice's (above)
@pytest.mark.parametrize("user", ["alice", "nosuchuser"])
def test_svcrack_with_wrong_passwords_cracks_nothing(open_cfg, tmp_path,
                                                     user):
    """svcrack answers the challenge with each word: a wrong password for
    alice or bob and any password for an unknown user all get the same
    fresh 401 challenge; nothing cracked, nothing registered."""
    words = wordfile(tmp_path, "words.txt", WORDS)
    before = sl_replies(open_cfg)
    out = sipvicious(open_cfg, SVCRACK, ["-u", user, "-d", words], tmp_path)
    assert cracked(out) == {}, out
    assert sl_replies(open_cfg) - before >= len(WORDS), out
    assert_nothing_registered(open_cfg)
    assert_alive(open_cfg)


def test_svcrack_control_with_the_real_password_finds_it(open_cfg,
                                                        tmp_path):
    """Control: with the real password in its list svcrack does crack
    alice (and registers her, removed again), so the runs above would have
    seen a weak password."""
    words = wordfile(tmp_path, "words.txt", WORDS[:5] + ["alice-secret"])
    out = sipvicious(open_cfg, SVCRACK, ["-u", "alice", "-d", words],
                     tmp_path)
    try:
        assert cracked(out) == {"alice": "alice-secret"}, out
    finally:
        open_cfg.flush()
    assert_nothing_registered(open_cfg)


def test_shipped_cfg_pike_cuts_a_scan_short(shipped_cfg, tmp_path):
    """As shipped, pike drops a source address past 16 requests in 2 s:
    svwar over 300 names gets few answers, learns nothing, registers
    nothing; Kamailio answers again (OPTIONS) once the scan stops."""
    names = wordfile(tmp_path, "names.txt",
                     NAMES + ["u%03d" % i for i in range(300 - len(NAMES))])
    before = sl_replies(shipped_cfg)
    out = sipvicious(shipped_cfg, SVWAR, ["--force", "-d", names], tmp_path)
    answered = sl_replies(shipped_cfg) - before
    assert found_extensions(out) == set(), out
    assert answered < 100, "pike let %d of 300 requests through" % answered
    assert_nothing_registered(shipped_cfg)

    def answers():
        with shipped_cfg.client() as c:
            try:
                return c.options(timeout=0.5).status == 200
            except sip.Timeout:
                return False
    assert sip.wait_until(answers, 20, interval=1), \
        "Kamailio does not answer after the scan"
    assert_alive(shipped_cfg)
