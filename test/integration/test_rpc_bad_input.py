"""Bad operator input: every aor.* RPC command with missing, extra and
wrongly typed arguments, absurd values, unknown tables and oversized
strings.

Each call must end in a clear fault ("error: <4xx/5xx> - <message>" from
kamcmd), never a crash; afterwards Kamailio still answers RPC and SIP, and
the victim AoR registered before the first call is unchanged (aor.show,
aor.count). The one exception is an argument past ctl's request limit
(binrpc_max_body_size, 32 KB): ctl, not the module, refuses it by closing
the connection, and kamcmd fails.

kamcmd types its arguments: "123" is sent as an integer, "s:123" as a
string; arguments after "--" may start with '-'.
"""

import re
import subprocess

import pytest

import kam as kammod
from checks import assert_alive

VICTIM = "victim"
CTL_REFUSES = None  # expected: ctl closes the connection, no fault
BIG = "x" * 100000  # past ctl's 32 KB request limit
LONG = "y" * 30000  # within it: reaches the module

# (id, arguments after the command name, expected fault code)
CALLS = {
    "aor.show": [
        ("no-args", [], 400),
        ("number-as-aor", [123], 404),
        ("empty-aor", ["s:"], 400),
        ("uri-without-user", ["sip:"], 400),
        ("uri-with-bad-escape", ["sip:%ZZ@h"], 400),
        ("30kb-aor", [LONG], 400),
        ("100kb-aor", [BIG], CTL_REFUSES),
        ("unknown-table", [VICTIM, "nosuch"], 404),
        ("number-as-table", [VICTIM, 5], 404),
        ("extra-arg", [VICTIM, "location", "extra"], 400),
        ("unknown-aor", ["nosuchaor"], 404),
    ],
    "aor.rm": [
        ("no-args", [], 400),
        ("unknown-aor", ["nosuchaor"], 404),
        ("unknown-table", [VICTIM, "nosuch"], 404),
        ("2kb-aor", ["z" * 2000], 400),
        ("bad-uri", ["sip:@"], 400),
        ("extra-arg", [VICTIM, "location", "extra"], 400),
        ("100kb-aor", [BIG], CTL_REFUSES),
    ],
    "aor.rm_contact": [
        ("no-args", [], 400),
        ("aor-only", [VICTIM], 400),
        ("not-a-uri", [VICTIM, "not a uri"], 400),
        ("number-as-contact", [VICTIM, 17], 400),
        ("bad-ruid", [VICTIM, "aor-zzzz"], 400),
        ("unknown-contact", [VICTIM, "sip:victim@127.0.0.1:5999"], 404),
        ("unknown-table", [VICTIM, "sip:x@h", "nosuch"], 404),
        ("extra-arg", [VICTIM, "sip:victim@127.0.0.1:5001", "location",
                       "extra"], 400),
        ("30kb-contact", [VICTIM, "s:" + LONG], 400),
        ("100kb-contact", [VICTIM, BIG], CTL_REFUSES),
    ],
    "aor.add": [
        ("no-args", [], 400),
        ("aor-only", ["a"], 400),
        ("no-expires", ["a", "sip:a@h"], 400),
        ("word-as-expires", ["a", "sip:a@h", "soon"], 400),
        ("negative-expires", ["a", "sip:a@h", -1], 400),
        ("overflowing-expires", ["a", "sip:a@h", "s:99999999999"], 400),
        ("q-above-1", ["a", "sip:a@h", 60, 5], 400),
        ("negative-q", ["a", "sip:a@h", 60, -0.1], 400),
        ("word-as-q", ["a", "sip:a@h", 60, "x"], 400),
        ("nan-q", ["a", "sip:a@h", 60, "s:nan"], 400),
        ("infinite-q", ["a", "sip:a@h", 60, "s:inf"], 400),
        ("not-a-uri", ["a", "notauri", 60], 400),
        ("2kb-contact", ["a", "sip:%s@h" % ("a" * 2000), 60], 400),
        ("uri-without-user-as-aor", ["sip:", "sip:a@h", 60], 400),
        ("unknown-table", ["a", "sip:a@h", 60, 0.5, "nosuch"], 404),
        ("extra-arg", ["a", "sip:a@h", 60, 0.5, "location", "extra"], 400),
        ("100kb-aor", [BIG, "sip:a@h", 60], CTL_REFUSES),
    ],
    "aor.list": [
        ("negative-limit", ["location", -1], 400),
        ("zero-limit", ["location", 0], 400),
        ("word-as-limit", ["location", "abc"], 400),
        ("word-as-cursor", ["location", 10, "abc"], 400),
        ("negative-cursor", ["location", 10, "s:-1"], 400),
        ("cursor-2^64", ["location", 10, "s:18446744073709551616"], 400),
        ("300-char-filter", ["location", 10, "s:0", "f" * 300], 400),
        ("unknown-table", ["nosuch"], 404),
        ("number-as-table", [5], 404),
        ("30kb-table", ["s:" + LONG], 404),
        ("extra-arg", ["location", 10, "s:0", "v*", "extra"], 400),
    ],
    "aor.flush": [
        ("unknown-table", ["nosuch"], 404),
        ("number-as-table", [7], 404),
        ("extra-arg", ["nosuch", "extra"], 400),
        ("extra-arg-after-the-default-table", ["location", "extra"], 400),
        ("30kb-table", ["s:" + LONG], 404),
        ("100kb-table", [BIG], CTL_REFUSES),
    ],
    "aor.count": [
        ("unknown-table", ["nosuch"], 404),
        ("number-as-table", [7], 404),
        ("extra-arg", ["location", "extra"], 400),
    ],
    "aor.stats": [
        ("extra-arg", ["extra"], 400),
    ],
    "aor.reginfo": [
        ("no-args", [], 400),
        ("unknown-aor", ["nosuchaor"], 404),
        ("unknown-table", [VICTIM, "nosuch"], 404),
        ("extra-arg", [VICTIM, "location", "extra"], 400),
        ("30kb-uri", ["sip:%s@h" % LONG], 400),
        ("100kb-aor", [BIG], CTL_REFUSES),
    ],
    "aor.snapshot": [
        ("extra-arg", ["extra"], 400),
        ("persistence-off", [], 500),
    ],
}

CASES = [pytest.param(cmd, args, code, id="%s-%s" % (cmd, name))
         for cmd, calls in CALLS.items() for name, args, code in calls]


@pytest.fixture(scope="module")
def victim(kam):
    if kammod.IMPL == "stock":
        pytest.fail("checks the aor module's RPC commands")
    with kam.client() as c:
        r = c.register(kam.aor(VICTIM), ["sip:victim@127.0.0.1:5001",
                                         "sip:victim@127.0.0.1:5002"],
                       expires=3600)
        assert r.status == 200, r.raw
    return kam.show(VICTIM)


def kamcmd(k, cmd, args):
    """kamcmd's rc and output; "--" lets an argument start with '-'."""
    r = subprocess.run([kammod.KAMCMD, "-s", k.ctl_uri, "--", cmd] +
                       [str(a) for a in args],
                       capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr


def comparable(rows):
    return sorted(tuple(sorted((k, v) for k, v in r.items()
                               if k != "expires")) for r in rows or [])


@pytest.mark.parametrize("cmd,args,code", CASES)
def test_bad_rpc_call_is_a_clear_fault(kam, victim, cmd, args, code):
    """A 4xx/5xx fault with a message; Kamailio alive, nothing changed."""
    count = kam.count()
    rc, out = kamcmd(kam, cmd, args)
    if code is CTL_REFUSES:
        assert rc != 0, out[:300]
    else:
        m = re.match(r"error: (\d+) - (.+)", out)
        assert m, "not a fault: %r" % out[:300]
        assert int(m.group(1)) == code, out[:300]
        assert len(m.group(2).strip()) > 5, out[:300]
        assert len(out) < 400, "the fault repeats a whole argument"
    assert_alive(kam)
    assert comparable(kam.show(VICTIM)) == comparable(victim)
    assert kam.count() == count
