"""Every .cfg under the Kamailio source tree's misc/examples/ that loads
registrar or usrloc passes `kamailio -c` after the drop-in swap
(dropin.swap: the two loadmodule lines become one of aor, the modparams of
registrar and usrloc go to aor), with no define and with each WITH_*
define the cfg tests (alone, and with WITH_MYSQL where the cfg has it).

The cfgs are read where they are ($KAMAILIO_SRC/misc/examples), never
copied into the project. Stock is the oracle: each cfg and define set is
first checked as it is, with registrar+usrloc; one that fails there (a
module not installed, syntax of an older Kamailio) is skipped with stock's
error. Both runs use `-L` with Kamailio's installed module directory (the
examples' mpath is their authors' machine; -L overrides it) and run in the
cfg's directory, so relative include_file lines resolve.

`kamailio -c` parses the cfg, loads the modules, sets the modparams and
looks up the functions; it does not run mod_init, where modules check
their modparams and bind other modules' APIs (nathelper, pua_usrloc, ...
bind usrloc's). So each case whose define set needs no database server
(no WITH_MYSQL) is also started, stock first as the oracle, listening on
127.0.0.1 and a free port only (-l; the cfg's own listen lines stay),
runtime files in a temporary directory (-Y): started is answering SIP
(any reply to an OPTIONS) within START_TIMEOUT."""

import glob
import os
import re
import signal
import subprocess
import time

import pytest

import dropin
import sip
import kam as kammod
from kam import KamcmdError

SRC = os.environ.get("KAMAILIO_SRC",
                     os.path.join(kammod.ROOT, "build", "kamailio-5.6.3"))
EXAMPLES = os.path.join(SRC, "misc", "examples")
TIMEOUT = 30
START_TIMEOUT = 10.0

def example_cfgs():
    out = []
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "**", "*.cfg"),
                                 recursive=True)):
        with open(path, errors="replace") as f:
            if dropin.loaded_stock(f.read()):
                out.append(path)
    return out


def define_sets(path):
    """() and each WITH_* define the cfg tests (and does not define
    itself), alone and with WITH_MYSQL when the cfg has that one."""
    with open(path, errors="replace") as f:
        text = f.read()
    tested = set(re.findall(r"^\s*#!ifn?def\s+(WITH_\w+)", text, re.M))
    # one the cfg defines itself cannot be given again with -A
    own = set(re.findall(r"^\s*#!(?:define|def|trydef)\s+(WITH_\w+)", text,
                         re.M))
    names = sorted(tested - own)
    sets = [()] + [(n,) for n in names]
    if "WITH_MYSQL" in names:
        sets += [("WITH_MYSQL", n) for n in names if n != "WITH_MYSQL"]
    return sets


def cases(start=False):
    out = []
    for path in example_cfgs():
        rel = os.path.relpath(path, EXAMPLES)
        for defs in define_sets(path):
            if start and "WITH_MYSQL" in defs:
                continue
            cid = rel + ("[%s]" % "+".join(defs) if defs else "")
            out.append(pytest.param(path, defs, id=cid))
    return out


def check(cfg, defs, cwd):
    """kamailio -c of cfg: (ok, output)."""
    cmd = [kammod.KAMAILIO, "-c", "-L", kammod.MPATH, "-f", cfg]
    for d in defs:
        cmd += ["-A", d]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=TIMEOUT)
    return p.returncode == 0, p.stdout + p.stderr


def start(cfg, defs, cwd, rundir):
    """Starts Kamailio on cfg, waits until it answers an OPTIONS, stops it.
    Returns (started, log)."""
    port = sip.free_udp_port()
    log_path = os.path.join(rundir, "kamailio.log")
    cmd = [kammod.KAMAILIO, "-DD", "-E", "-L", kammod.MPATH, "-f", cfg,
           "-l", "udp:127.0.0.1:%d" % port, "-Y", rundir]
    for d in defs:
        cmd += ["-A", d]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log,
                                start_new_session=True)
    started = False
    try:
        deadline = time.monotonic() + START_TIMEOUT
        with sip.Client(port) as c:
            while time.monotonic() < deadline and proc.poll() is None:
                data, cid, _ = c.request("OPTIONS", "sip:127.0.0.1:%d" % port,
                                         "sip:127.0.0.1:%d" % port,
                                         call_id=sip.token(16))
                c.send_raw(data)
                try:
                    c.recv(timeout=0.3, match=lambda m: m.is_reply)
                    started = True
                    break
                except (sip.Timeout, OSError):
                    pass
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(5)
    with open(log_path, errors="replace") as f:
        return started, f.read()


def first_error(out):
    for line in out.splitlines():
        if "ERROR" in line or "CRITICAL" in line:
            return re.sub(r"^.*?(ERROR|CRITICAL)", r"\1", line).strip()
    return out.strip().splitlines()[-1] if out.strip() else "no output"


SAMPLE = """mpath="/usr/local/lib/kamailio/modules/"
loadmodule "tm.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "nathelper.so"
#loadmodule "registrar.so"
loadmodule "pua_usrloc.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_contacts", 10)
modparam("nathelper|registrar", "received_avp", "$avp(RECEIVED)")
modparam("usrloc|registrar", "use_domain", 1)
modparam('registrar', "append_branches", 0)
modparam("domain|auth_db|usrloc|msilo",
    "db_url", DBURL)
modparam("pua_usrloc", "default_expires", 3600)
modparam("ims_registrar_scscf", "max_contacts", 1)
route { save("location"); }
"""

SWAPPED = """mpath="/usr/local/lib/kamailio/modules/"
loadmodule "tm.so"
#[aor drop-in] loadmodule "usrloc.so"
loadmodule "/x/aor.so"
loadmodule "nathelper.so"
#loadmodule "registrar.so"
loadmodule "pua_usrloc.so"
modparam("aor", "db_mode", 0)
modparam("aor", "max_contacts", 10)
modparam("nathelper|aor", "received_avp", "$avp(RECEIVED)")
modparam("aor", "use_domain", 1)
modparam('aor', "append_branches", 0)
modparam("domain|auth_db|aor|msilo",
    "db_url", DBURL)
modparam("pua_usrloc", "default_expires", 3600)
modparam("ims_registrar_scscf", "max_contacts", 1)
route { save("location"); }
"""


def test_swap_rewrites_the_loadmodule_and_modparam_lines_only():
    """dropin.swap does what its docstring says: usrloc's line becomes a
    comment and registrar's the aor loadmodule (line count kept), module
    names in modparam become aor, also inside alternations, and nothing
    else changes (pua_usrloc, ims_registrar_scscf, comments, the script)."""
    assert dropin.swap(SAMPLE, "/x/aor.so") == SWAPPED
    for path in ("usrloc", "/usr/lib/kamailio/modules/usrloc.so",
                 "modules/usrloc/usrloc.so"):
        assert dropin.swap('loadmodule "%s"\n' % path, "aor.so") == \
            'loadmodule "aor.so"\n'
    with pytest.raises(ValueError):
        dropin.swap('loadmodule "tm.so"\n', "aor.so")


def test_examples_are_there():
    """The examples are found (else every case below would vanish)."""
    if not os.path.isdir(EXAMPLES):
        pytest.skip("no Kamailio source tree at %s" % SRC)
    assert len(example_cfgs()) >= 10, example_cfgs()


@pytest.mark.parametrize("path,defs", cases())
def test_example_cfg_passes_check_after_the_swap(path, defs, tmp_path):
    """The swapped cfg passes `kamailio -c` wherever the stock one does."""
    cwd = os.path.dirname(path)
    ok, out = check(path, defs, cwd)
    if not ok:
        pytest.skip("stock fails kamailio -c too: " + first_error(out))
    with open(path, errors="replace") as f:
        text = dropin.swap(f.read(), os.path.abspath(kammod.AOR_SO))
    swapped = tmp_path / os.path.basename(path)
    swapped.write_text(text)
    ok, out = check(str(swapped), defs, cwd)
    assert ok, "aor fails kamailio -c: %s\n%s" % (first_error(out), out[-3000:])


@pytest.mark.parametrize("path,defs", cases(start=True))
def test_example_cfg_starts_after_the_swap(path, defs, tmp_path):
    """The swapped cfg starts and answers SIP wherever the stock one does:
    mod_init of aor and of every module that binds it has run."""
    cwd = os.path.dirname(path)
    ok, out = check(path, defs, cwd)
    if not ok:
        pytest.skip("stock fails kamailio -c: " + first_error(out))
    (tmp_path / "stock").mkdir()
    ok, out = start(path, defs, cwd, str(tmp_path / "stock"))
    if not ok:
        pytest.skip("stock does not start: " + first_error(out))
    with open(path, errors="replace") as f:
        text = dropin.swap(f.read(), os.path.abspath(kammod.AOR_SO))
    swapped = tmp_path / os.path.basename(path)
    swapped.write_text(text)
    (tmp_path / "aor").mkdir()
    ok, out = start(str(swapped), defs, cwd, str(tmp_path / "aor"))
    assert ok, "aor does not start: %s\n%s" % (first_error(out), out[-3000:])


def test_preload_makes_the_table_at_start(kamailio_factory):
    """modparam preload (stock usrloc's, used by kemi/kamailio-basic-kemi.cfg):
    the named table exists from the start, before any save() names it (as
    stock registers the domain at start): aor.count finds it empty. A table
    no preload names stays unknown."""
    if kammod.IMPL == "stock":
        pytest.fail("aor.count does not exist in the stock modules")
    k = kamailio_factory(modparams={"preload": "other"})
    assert "aors: 0" in k.kamcmd("aor.count", "other")
    with pytest.raises(KamcmdError):
        k.kamcmd("aor.count", "unknown")
