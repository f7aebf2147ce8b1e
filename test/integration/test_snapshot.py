"""Persistence without a database: the snapshot file (modparams
snapshot_file, snapshot_interval; RPC aor.snapshot).

A clean stop writes the whole store, a start loads it back; kill -9 at any
moment leaves the previous whole snapshot (temporary file, fsync, rename);
a damaged or foreign file never stops Kamailio: what is readable is loaded
and the file is moved aside as <file>.corrupt-<time>. Files for the load
tests are made here, in the format snapshot.h describes.
"""

import glob
import os
import random
import re
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import pytest

import kam as kammod
import siphash
import sip
from checks import assert_ok
from test_stats import stats

SNAP_NS = "urn:x-kamailio-aor:params:xml:ns:snapshot"
REGINFO_NS = "urn:ietf:params:xml:ns:reginfo"
EXT_NS = "urn:x-kamailio-aor:params:xml:ns:binding"

if kammod.IMPL == "stock":
    pytestmark = pytest.mark.skip(
        reason="the stock usrloc has no snapshot (it needs a database)")


def snapshot_params(path, interval=60, **more):
    p = {"snapshot_file": path, "snapshot_interval": interval}
    p.update(more)
    return p


def make_snapshot(path, users, expires_in=3600, now=None, table="location",
                  end=True, contact_extra=""):
    """A snapshot file of one binding per user, as the module writes it."""
    now = int(now or time.time())
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<snapshot xmlns="%s" format="1" created="%d">\n'
             ' <table name=%s>\n  <reginfo xmlns="%s" xmlns:aor="%s" '
             'version="0" state="full">\n'
             % (SNAP_NS, now, quoteattr(table), REGINFO_NS, EXT_NS)]
    for i, u in enumerate(users):
        exp = now + expires_in
        parts.append(
            '   <registration aor="sip:%s" id="%s" state="active">'
            '<contact state="active" event="registered" expires="%d" '
            'id="aor-%016x" callid="snap-%d" cseq="1">'
            '<uri>sip:%s@127.0.0.1:%d</uri>%s'
            '<aor:user-agent>made by test_snapshot</aor:user-agent>'
            '<aor:expires-at>%d</aor:expires-at></contact>'
            '</registration>\n'
            % (u, u, expires_in, i + 1, i, u, 20000 + i % 10000,
               contact_extra, exp))
    parts.append('  </reginfo>\n </table>\n')
    if end:
        parts.append(' <end aors="%d" bindings="%d"/>\n' % (len(users),
                                                            len(users)))
    parts.append('</snapshot>\n')
    with open(path, "w") as f:
        f.write("".join(parts))


def aside_files(path):
    return sorted(glob.glob(path + ".corrupt-*"))


def kill9(k):
    """A crash: SIGKILL to every process of the instance at once."""
    os.killpg(k.proc.pid, signal.SIGKILL)
    k.proc.wait(5)
    k.stop()


def show_by_contact(k, user):
    return {b["contact"]: b for b in (k.show(k.aor(user)) or [])}


def test_clean_restart_keeps_every_binding_and_lookup_routes(
        kamailio_factory, uas_factory, tmp_path):
    """Register 30 users (one also with q, Path-less second binding), stop
    cleanly, start again on the same port: every binding is back with the
    same ruid, Call-ID, CSeq and expiry (+-1 s), and lookup() sends an
    INVITE to the restored binding."""
    path = str(tmp_path / "snap.xml")
    k = kamailio_factory(modparams=snapshot_params(path))
    uas = uas_factory(code=200)
    users = ["rs%02d" % i for i in range(30)]
    with k.client() as c:
        for i, u in enumerate(users):
            cts = [(uas.contact(u), {"q": "0.7"})] if i == 0 else \
                ["sip:%s@127.0.0.1:%d" % (u, 30000 + i)]
            assert_ok(c.register(k.aor(u), cts, expires=600 + i,
                                 headers=[("User-Agent", "phone <%d> & co" % i)]))
        assert_ok(c.register(k.aor(users[1]), ["sip:%s@192.0.2.7:5070"
                                                % users[1]], expires=900))
    read_before = time.monotonic()
    before = {u: show_by_contact(k, u) for u in users}
    assert k.count() == (30, 31)
    port = k.port
    k.stop()
    assert os.path.exists(path), "no snapshot written at shutdown"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"

    k2 = kamailio_factory(modparams=snapshot_params(path), port=port)
    assert k2.count() == (30, 31)
    assert stats(k2)["snapshot_loaded"] == 31
    for u in users:
        after = show_by_contact(k2, u)
        assert set(after) == set(before[u]), u
        for ct, b in before[u].items():
            a = after[ct]
            for field in ("ruid", "callid", "cseq", "useragent", "q",
                          "socket", "flags"):
                assert a.get(field) == b.get(field), (u, field, a, b)
            # the same absolute expiry: what is left went down by the
            # time the restart took (seconds under valgrind), no more
            lag = time.monotonic() - read_before
            assert -1 <= int(b["expires"]) - int(a["expires"]) <= lag + 1, \
                (a, b, lag)
    with k2.client() as c:
        r = c.invite(k2.ruri(users[0]))
        assert r.status == 200, r.raw
    req = uas.wait_for("INVITE")
    assert req is not None and users[0] in req.first_line


def test_binding_whose_socket_is_gone_is_kept(kamailio_factory, tmp_path):
    """Restarted on another port, the bindings received on the old socket
    are kept (and reported), not dropped."""
    path = str(tmp_path / "snap.xml")
    k = kamailio_factory(modparams=snapshot_params(path))
    with k.client() as c:
        assert_ok(c.register(k.aor("sockgone"),
                             ["sip:sockgone@127.0.0.1:30999"], expires=600))
    old_sock = show_by_contact(k, "sockgone")[
        "sip:sockgone@127.0.0.1:30999"]["socket"]
    k.stop()
    k2 = kamailio_factory(modparams=snapshot_params(path))
    assert k2.port != k.port
    b = show_by_contact(k2, "sockgone")["sip:sockgone@127.0.0.1:30999"]
    assert b["socket"] == old_sock
    assert aside_files(path) == []


def test_rpc_snapshot_writes_now_and_reports(kamailio_factory, tmp_path):
    """aor.snapshot writes the file at once and says how many bindings and
    how long; the file is a snapshot of them (our namespace, the reginfo
    vocabulary inside)."""
    path = str(tmp_path / "snap.xml")
    k = kamailio_factory(modparams=snapshot_params(path, interval=0))
    with k.client() as c:
        for i in range(5):
            assert_ok(c.register(k.aor("rpc%d" % i),
                                 ["sip:rpc%d@127.0.0.1:31%03d" % (i, i)],
                                 expires=300))
    out = k.kamcmd("aor.snapshot")
    tree = kammod.parse_rpc(out)
    assert kammod.rpc_find(tree, "bindings") == ["5"], out
    assert kammod.rpc_find(tree, "aors") == ["5"], out
    assert int(kammod.rpc_find(tree, "ms")[0]) >= 0
    assert int(kammod.rpc_find(tree, "bytes")[0]) == os.path.getsize(path)
    root = ET.parse(path).getroot()
    assert root.tag == "{%s}snapshot" % SNAP_NS
    regs = root.findall(".//{%s}registration" % REGINFO_NS)
    assert sorted(r.get("aor") for r in regs) == \
        ["sip:rpc%d" % i for i in range(5)]
    assert root.find("{%s}end" % SNAP_NS).get("bindings") == "5"
    assert stats(k)["snapshot_writes"] == 1
    assert not os.path.exists(path + ".tmp")


def test_rpc_snapshot_without_a_file_is_a_fault(kam):
    with pytest.raises(kammod.KamcmdError) as e:
        kam.kamcmd("aor.snapshot")
    assert e.value.code == 500, e.value.out + e.value.err


def test_timer_writes_every_interval(kamailio_factory, tmp_path):
    """snapshot_interval=1: the file appears and follows changes without
    any RPC or stop."""
    path = str(tmp_path / "snap.xml")
    k = kamailio_factory(modparams=snapshot_params(path, interval=1))
    with k.client() as c:
        assert_ok(c.register(k.aor("tick"), ["sip:tick@127.0.0.1:31999"],
                             expires=300))

    def has_tick():
        try:
            return "sip:tick@127.0.0.1:31999" in open(path).read()
        except OSError:
            return False
    assert sip.wait_until(has_tick, 5.0), "timer wrote no snapshot in 5 s"
    assert stats(k)["snapshot_writes"] >= 1


def test_expired_bindings_are_dropped_at_load(kamailio_factory, tmp_path):
    path = str(tmp_path / "snap.xml")
    now = int(time.time())
    make_snapshot(path, ["old%d" % i for i in range(4)], expires_in=100,
                  now=now - 200)
    with open(path) as f:
        text = f.read()
    # splice two live registrations into the same file
    live = str(tmp_path / "live.xml")
    make_snapshot(live, ["live0", "live1"], expires_in=600)
    regs = [ln for ln in open(live) if "<registration" in ln]
    text = text.replace("  </reginfo>", "".join(regs) + "  </reginfo>")
    text = text.replace('<end aors="4" bindings="4"/>',
                        '<end aors="6" bindings="6"/>')
    with open(path, "w") as f:
        f.write(text)
    k = kamailio_factory(modparams=snapshot_params(path))
    assert k.count() == (2, 2)
    assert stats(k)["snapshot_loaded"] == 2
    assert aside_files(path) == []


def test_config_check_does_not_touch_the_snapshot(kamailio_factory, tmp_path):
    """`kamailio -c` (as `make run` does first) parses the config and exits:
    no shutdown snapshot overwrites the file."""
    path = str(tmp_path / "snap.xml")
    make_snapshot(path, ["chk0", "chk1"])
    before = open(path, "rb").read()
    k = kammod.Kamailio(str(tmp_path / "k"),
                        modparams=snapshot_params(path))
    r = subprocess.run([kammod.KAMAILIO, "-c", "-f", k.cfg_path],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert open(path, "rb").read() == before
    assert aside_files(path) == []


def truncated(path):
    make_snapshot(path, ["tr%02d" % i for i in range(20)])
    data = open(path, "rb").read()
    cut = data.index(b"tr15")
    with open(path, "wb") as f:
        f.write(data[:cut])
    # the registrations in the reader's last chunk (512 bytes) before the
    # cut are lost with it
    return (12, 15)


def corrupt_middle(path):
    make_snapshot(path, ["cm%02d" % i for i in range(20)])
    data = open(path, "rb").read()
    cut = data.index(b"cm10")
    with open(path, "wb") as f:
        f.write(data[:cut] + b"\x00<<junk&&\xff>" + data[cut:])
    return (7, 10)


def empty(path):
    open(path, "wb").close()
    return (0, 0)


def binary(path):
    with open(path, "wb") as f:
        f.write(bytes(random.Random(7).randrange(256) for _ in range(4096)))
    return (0, 0)


def wrong_namespace(path):
    make_snapshot(path, ["wn0", "wn1"])
    text = open(path).read().replace(SNAP_NS, "urn:example:not-ours")
    with open(path, "w") as f:
        f.write(text)
    return (0, 0)


def rfc3680_document(path):
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?><reginfo xmlns="%s" version="0" '
                'state="full"><registration aor="sip:x@y" id="a" '
                'state="active"><contact id="1" state="active" '
                'event="registered"><uri>sip:x@z</uri></contact>'
                '</registration></reginfo>' % REGINFO_NS)
    return (0, 0)


def huge_field(path):
    """One registration with a 70,000-byte Contact among good ones: it
    alone is skipped."""
    make_snapshot(path, ["hf%02d" % i for i in range(6)])
    text = open(path).read()
    big = "sip:hf03@" + "h" * 70000
    text = text.replace("<uri>sip:hf03@127.0.0.1:20003</uri>",
                        "<uri>%s</uri>" % big)
    with open(path, "w") as f:
        f.write(text)
    return (5, 5)


def huge_text(path):
    """A text node past libxml2's 10 MB limit: loading stops there."""
    make_snapshot(path, ["ht%02d" % i for i in range(6)])
    text = open(path).read()
    at = text.index("made by test_snapshot", text.index('"sip:ht03"'))
    text = text[:at] + "x" * (11 << 20) + text[at:]
    with open(path, "w") as f:
        f.write(text)
    return (2, 3)


def end_count_mismatch(path):
    """Well-formed, but the end marker counts more than the file holds (a
    registration went missing): loaded, yet moved aside as not whole."""
    make_snapshot(path, ["ec%02d" % i for i in range(5)])
    text = open(path).read().replace('bindings="5"', 'bindings="6"')
    with open(path, "w") as f:
        f.write(text)
    return (5, 5)


def bad_table_name(path):
    """A table name the module refuses (not a plain word): nothing of it
    is loaded and the file is kept aside whole."""
    make_snapshot(path, ["bt0", "bt1"], table="no such table!")
    return (0, 0)


def entity_bomb(path):
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?><!DOCTYPE snapshot [<!ENTITY a '
                '"aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                ']><snapshot xmlns="%s" format="1">&b;</snapshot>' % SNAP_NS)
    return (0, 0)


@pytest.mark.parametrize("damage", [truncated, corrupt_middle, empty, binary,
                                    wrong_namespace, rfc3680_document,
                                    huge_field, huge_text, end_count_mismatch,
                                    bad_table_name, entity_bomb])
def test_damaged_file_never_stops_kamailio(kamailio_factory, tmp_path,
                                           damage):
    """Kamailio starts and answers, the readable part is loaded, the file
    is moved aside with a timestamp, and SIP and the next snapshot work."""
    path = str(tmp_path / "snap.xml")
    lo, hi = damage(path)
    k = kamailio_factory(modparams=snapshot_params(path, interval=0))
    aors, bindings = k.count()
    assert lo <= bindings <= hi, (bindings, k.log_tail())
    assert stats(k)["snapshot_loaded"] == bindings
    moved = aside_files(path)
    assert len(moved) == 1, os.listdir(str(tmp_path))
    assert not os.path.exists(path)
    with k.client() as c:
        assert_ok(c.register(k.aor("after"), ["sip:after@127.0.0.1:32000"],
                             expires=300))
    k.stop()
    # the shutdown snapshot is whole and holds what was loaded and added
    k2 = kamailio_factory(modparams=snapshot_params(path, interval=0))
    assert k2.count()[1] == bindings + 1
    assert aside_files(path) == moved


def test_unreadable_file_is_moved_aside_not_overwritten(kamailio_factory,
                                                        tmp_path):
    """A snapshot Kamailio cannot open (here: a symbolic link to itself,
    ELOOP) is never replaced by an empty one: it is moved aside and kept."""
    path = str(tmp_path / "snap.xml")
    os.symlink(path, path)
    k = kamailio_factory(modparams=snapshot_params(path, interval=0))
    assert k.count() == (0, 0)
    moved = aside_files(path)
    assert len(moved) == 1 and os.path.islink(moved[0])
    k.kamcmd("aor.snapshot")
    assert os.path.isfile(path) and not os.path.islink(path)


def test_kill9_at_random_moments_loses_nothing_snapshotted(kamailio_factory,
                                                           tmp_path):
    """A 30,000-binding table written every second; six times: register a
    batch, wait for two more snapshots, register another batch and kill -9
    every process at a random moment (often mid-write). After each restart
    the file was whole (nothing moved aside), every binding of the earlier
    batches is back, and no temporary file was taken for the snapshot."""
    path = str(tmp_path / "snap.xml")
    base = ["big%05d" % i for i in range(30000)]
    make_snapshot(path, base)
    rnd = random.Random(20261201)
    safe = set()
    port = None
    for round_ in range(6):
        k = kamailio_factory(modparams=snapshot_params(path, interval=1),
                             port=port)
        port = k.port
        assert aside_files(path) == [], k.log_tail()
        aors, bindings = k.count()
        assert bindings >= len(base) + len(safe), (round_, bindings)
        for u in safe:
            assert k.show(k.aor(u)), "lost %s after kill -9" % u
        batch = ["k%d_%d" % (round_, i) for i in range(20)]
        with k.client() as c:
            for u in batch:
                assert_ok(c.register(k.aor(u), ["sip:%s@127.0.0.1:33000" % u],
                                     expires=3600))
        w0 = stats(k)["snapshot_writes"]
        assert sip.wait_until(lambda: stats(k)["snapshot_writes"] >= w0 + 2,
                              10.0), "no snapshot in 10 s"
        safe.update(batch)
        with k.client() as c:
            for u in ["u%d_%d" % (round_, i) for i in range(20)]:
                c.register(k.aor(u), ["sip:%s@127.0.0.1:33001" % u],
                           expires=3600, wait=False)
        deadline = time.monotonic() + rnd.uniform(0.0, 1.5)
        while time.monotonic() < deadline:
            time.sleep(0.01)
        kill9(k)
    k = kamailio_factory(modparams=snapshot_params(path, interval=1),
                         port=port)
    assert aside_files(path) == []
    for u in safe:
        assert k.show(k.aor(u)), "lost %s after kill -9" % u


# the slot hash key of the layout tests (modparam hash_key; mixed case, as
# an operator may write it)
HASH_KEY = "5A17c388029e41d67b30e56f12a9CC04"


def list_pages(k, limit, filter_):
    """The AoR keys of each page of a walk of aor.list, as sets."""
    pages, cursor = [], "0"
    while True:
        out = k.kamcmd("aor.list", "location", limit, "s:" + cursor, filter_)
        cursor = re.search(r"^\s*next:\s*(\d+)\s*$", out, re.M).group(1)
        pages.append(set(re.findall(r"^\s*aor:\s*(.*?)\s*$", out, re.M)))
        if cursor == "0":
            return [p for p in pages if p]
        assert len(pages) < 10000, "aor.list does not end"


def test_lock_holds_of_the_load_are_not_reported(kamailio_factory,
                                                 tmp_path):
    """aor.stats reports the longest slot lock hold of the walks from the
    end of the start-up load on: the load's own resize (here one old slot
    of 400 AoRs drained in one hold) ran before any other process existed
    and blocked nobody."""
    path = str(tmp_path / "snap.xml")
    same, i = [], 0
    while len(same) < 400:  # 400 AoRs in slot 0 of the first 1,024
        if siphash.aor_hash(HASH_KEY, "h%d" % i) & 1023 == 0:
            same.append("h%d" % i)
        i += 1
    # then enough others that the table grows past 1,024 slots
    make_snapshot(path, same + ["f%d" % j for j in range(1024)])
    k = kamailio_factory(modparams=snapshot_params(path, hash_key=HASH_KEY))
    assert k.count() == (1424, 1424)
    out = k.kamcmd("aor.stats")
    assert re.search(r"slots: 4096\b", out), out
    # nothing has expired and the resize is over: no walk held a lock since
    assert re.search(r"max_hold_us: 0\b", out), out
    assert re.search(r"max_hold_cpu_us: 0\b", out), out
    # the 400 did share one old slot: they sit in the 4 slots of 4,096 that
    # it split into, as this hash puts them (a page of limit 1 is one slot;
    # the glob keeps each page small)
    want = {}
    for u in same:
        if u.endswith("7"):
            want.setdefault(siphash.aor_hash(HASH_KEY, u) & 4095, set()).add(u)
    assert sorted(map(sorted, list_pages(k, 1, "h*7"))) == \
        sorted(map(sorted, want.values()))
