"""Load through SIPp: 1,000 users register, then a few of them are called.

Scenarios are in sipp/; the injection files are generated per run. The
verdict comes from sipp's exit code and its statistics file, from aor.count,
and from the UAS that answers the calls.
"""

import os
import shutil
import subprocess

import pytest

import sip

HERE = os.path.dirname(os.path.abspath(__file__))
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
USERS = 1000
CALLED = 5

KAM_OPTIONS = {"children": 4}


def sipp_command(kam, workdir, name, scenario, csv_mode, csv_lines, calls,
                 rate, limit, timeout):
    """The sipp command line of one client run in workdir (its injection
    file written there, csv_mode "SEQUENTIAL" or "RANDOM"), and the path of
    its statistics file."""
    csv = os.path.join(workdir, name + ".csv")
    with open(csv, "w") as f:
        f.write(csv_mode + "\n")
        f.writelines(line + "\n" for line in csv_lines)
    stf = os.path.join(workdir, name + "-stats.csv")
    cmd = [SIPP, "127.0.0.1:%d" % kam.port,
           "-sf", os.path.join(HERE, "sipp", scenario),
           "-inf", csv, "-m", str(calls), "-r", str(rate), "-l", str(limit),
           "-i", "127.0.0.1", "-p", str(sip.free_udp_port()), "-t", "u1",
           "-nostdin", "-nd", "-timeout", "%ds" % timeout,
           "-timeout_error", "-trace_stat", "-stf", stf,
           "-trace_err", "-error_file", os.path.join(workdir, name + "-err.log")]
    return cmd, stf


def run_sipp(kam, workdir, scenario, csv_lines, calls, rate, limit,
             timeout=90):
    """Run one sipp client to completion; return (exit code, stats dict)."""
    name = os.path.splitext(os.path.basename(scenario))[0]
    cmd, stf = sipp_command(kam, workdir, name, scenario, "SEQUENTIAL",
                            csv_lines, calls, rate, limit, timeout - 10)
    try:
        p = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("sipp %s did not finish in %ds: %s" % (scenario, timeout,
                                                           e.stdout))
    return p.returncode, read_stats(stf), p.stdout + p.stderr


def read_stats(path):
    """The last row of sipp's -trace_stat CSV as {column: value}."""
    with open(path) as f:
        rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    head, last = rows[0], rows[-1]
    return dict(zip(head, last))


@pytest.fixture(scope="module")
def registered(kam, tmp_path_factory):
    """Register USERS users with sipp; their contacts point at one UAS."""
    uas = sip.Uas(code=200)
    workdir = str(tmp_path_factory.mktemp("sipp"))
    users = ["sipp%04d" % i for i in range(USERS)]
    rc, stats, out = run_sipp(kam, workdir, "register.xml",
                              ["%s;%d" % (u, uas.port) for u in users],
                              calls=USERS, rate=500, limit=200)
    yield uas, users, workdir, rc, stats, out
    uas.close()


def test_thousand_users_register_through_sipp(kam, registered):
    """1,000 REGISTERs from sipp all get 200; aor.count shows 1,000 AoRs
    with one binding each."""
    _, _, _, rc, stats, out = registered
    assert rc == 0, "sipp exit %d\n%s" % (rc, out)
    assert int(stats["SuccessfulCall(C)"]) == USERS, stats
    assert int(stats["FailedCall(C)"]) == 0, stats
    assert kam.count() == (USERS, USERS)


def test_registered_users_can_be_called(kam, registered):
    """Calls to a few of the registered users reach their contacts: the UAS
    gets each INVITE with the user's contact as R-URI, and sipp completes
    INVITE/200/ACK/BYE/200 for every call."""
    uas, users, workdir, rc, _, _ = registered
    assert rc == 0
    called = users[::USERS // CALLED][:CALLED]
    uas.clear()
    rc, stats, out = run_sipp(kam, workdir, "invite.xml", called,
                              calls=CALLED, rate=CALLED, limit=CALLED,
                              timeout=40)
    assert rc == 0, "sipp exit %d\n%s" % (rc, out)
    assert int(stats["SuccessfulCall(C)"]) == CALLED, stats
    ruris = sorted(r.ruri for r in uas.received("INVITE"))
    assert ruris == sorted("sip:%s@127.0.0.1:%d" % (u, uas.port)
                           for u in called)
    assert len(uas.received("BYE")) == CALLED
