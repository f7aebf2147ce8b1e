"""pytest fixtures: Kamailio under test, SIP clients, UASes.

Run:   python3 -m pytest test/integration            (AOR_IMPL=aor, build/aor.so)
       AOR_IMPL=stock python3 -m pytest test/integration   (stock usrloc+registrar)
Env:   AOR_SO=/path/to/aor.so, KAMAILIO, KAMCMD, KAMAILIO_MPATH.

Fixtures
  kamailio_factory  function scope: kamailio_factory(modparams=..., route=...)
                    starts a Kamailio (see kam.Kamailio) stopped after the test.
  kam               module scope: a Kamailio with default settings, or with
                    those of the test module's KAM_OPTIONS dict.
  kam_cfg           module scope: a Kamailio running etc/kamailio.cfg itself.
  client            a sip.Client bound to `kam`.
  uas_factory       uas_factory(code=200) -> a running sip.Uas, closed after.
  baresip_factory   baresip_factory(user, password, port) -> a running
                    baresip.Baresip softphone, stopped (quit) after.
On a failing test, the tail of each running Kamailio's log, and each
softphone's output and events, are attached to the report. Verdicts never
come from the log.
"""

import atexit
import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import baresip as baresipmod  # noqa: E402
import kam as kammod  # noqa: E402
import sip  # noqa: E402

_running = []
_softphones = []
# (title, text) a test module adds to be printed at the end of the run
SUMMARIES = []
_seq = itertools.count()


def _start(tmp_path_factory, make=None, **kw):
    d = str(tmp_path_factory.mktemp("kam%d-" % next(_seq)))
    # kammod.Kamailio looked up now: test_kemi.py swaps in a subclass.
    k = (make or kammod.Kamailio)(d, **kw)
    k.start()
    _running.append(k)
    return k


def _stop(k):
    k.stop()
    if k in _running:
        _running.remove(k)


@atexit.register
def _stop_all():
    """Last resort: no Kamailio or softphone outlives the test run."""
    for b in list(_softphones):
        b.stop()
    for k in list(_running):
        _stop(k)


def pytest_sessionfinish(session, exitstatus):
    _stop_all()


def pytest_terminal_summary(terminalreporter):
    for title, text in SUMMARIES:
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)


@pytest.fixture
def kamailio_factory(tmp_path_factory):
    started = []

    def factory(**kw):
        k = _start(tmp_path_factory, **kw)
        started.append(k)
        return k
    yield factory
    for k in started:
        _stop(k)


@pytest.fixture(scope="module")
def kam(request, tmp_path_factory):
    opts = getattr(request.module, "KAM_OPTIONS", {})
    k = _start(tmp_path_factory, **opts)
    yield k
    _stop(k)


@pytest.fixture(scope="module")
def module_kamailio(tmp_path_factory):
    """Factory for extra module-scoped instances (other settings)."""
    started = []

    def factory(**kw):
        k = _start(tmp_path_factory, **kw)
        started.append(k)
        return k
    yield factory
    for k in started:
        _stop(k)


@pytest.fixture(scope="module")
def kam_cfg(tmp_path_factory):
    """A Kamailio running etc/kamailio.cfg (kam.etc_kamailio): digest
    authentication against a copy of etc/db, users alice and bob."""
    k = _start(tmp_path_factory, make=kammod.etc_kamailio)
    yield k
    _stop(k)


@pytest.fixture
def client(kam):
    c = kam.client()
    yield c
    c.close()


@pytest.fixture
def uas_factory():
    made = []

    def factory(**kw):
        u = sip.Uas(**kw)
        made.append(u)
        return u
    yield factory
    for u in made:
        u.close()


@pytest.fixture
def baresip_factory(tmp_path_factory):
    """baresip_factory(user, password, registrar_port) -> a started
    baresip.Baresip in a directory of its own; stopped after the test
    (quit first, so it unregisters; kill as a last resort)."""
    made = []

    def factory(user, password, registrar_port):
        d = str(tmp_path_factory.mktemp("baresip-%s-" % user))
        b = baresipmod.Baresip(d, user, password, registrar_port)
        made.append(b)
        _softphones.append(b)
        b.start()
        return b
    yield factory
    for b in made:
        b.stop()
        _softphones.remove(b)


@pytest.fixture
def user(request):
    """A user name unique to this test (AoR names never shared)."""
    name = request.node.name.replace("test_", "", 1)
    return "".join(ch for ch in name if ch.isalnum())[:40] + sip.token(4)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for k in list(_running):
            rep.sections.append(("kamailio log tail (%s, port %d)"
                                 % (k.log_path, k.port), k.log_tail(40)))
        for b in list(_softphones):
            rep.sections.append((b.title, b.log_tail(40)))
