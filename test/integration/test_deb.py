"""The Debian package kamailio-aor-module: build, install, load by name, call,
remove.

`make deb` builds build/kamailio-aor-module_<version>_<arch>.deb with
dpkg-buildpackage and runs lintian on it; it does nothing when the module and
the packaged files have not changed. The package is installed with
`apt-get install`, Kamailio starts with `loadmodule "aor.so"` and no mpath
(its compiled-in module directory), a user registers and an INVITE reaches
it through lookup(); then the package is removed and purged, and the module
is gone.

Installing needs root (CI runs as root): the tests are skipped otherwise.
The package is purged by a fixture finalizer whatever the outcome, and the
tests refuse to run when the package or a module file is already there, so
that they leave the machine as they found it.
"""

import glob
import os
import subprocess

import pytest

import kam as kammod
from checks import assert_ok

PKG = "kamailio-aor-module"


def _multiarch():
    try:
        return subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "x86_64-linux-gnu"


MODULE_DIR = "/usr/lib/%s/kamailio/modules" % _multiarch()
MODULE = os.path.join(MODULE_DIR, "aor.so")
DOC_DIR = "/usr/share/doc/" + PKG
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
# Other users of the machine may hold the dpkg lock for a while.
APT_LOCK = ["-o", "DPkg::Lock::Timeout=300"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="installs a .deb with apt-get, which needs root (CI runs as root)")


def run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, **kw)


def output(r):
    return "rc=%d\n%s\n%s" % (r.returncode, r.stdout[-6000:], r.stderr[-6000:])


def package_status():
    """'installed', 'config-files', ... or '' when dpkg does not know it."""
    r = run(["dpkg-query", "-W", "-f", "${db:Status-Status}", PKG])
    return r.stdout.strip() if r.returncode == 0 else ""


def installed_kamailio_version():
    r = run(["dpkg-query", "-W", "-f", "${Version}", "kamailio"])
    assert r.returncode == 0, output(r)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def deb():
    """`make deb` (a no-op when up to date); the path of the package."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = run(["make", "-C", kammod.ROOT, "--no-print-directory", "deb"],
            env=env)
    assert r.returncode == 0, "make deb failed\n" + output(r)
    debs = glob.glob(os.path.join(kammod.ROOT, "build", PKG + "_*.deb"))
    assert debs, "make deb left no %s_*.deb in build/" % PKG
    return max(debs, key=os.path.getmtime)


@pytest.fixture(scope="module")
def installed(deb):
    """The package installed by apt-get; purged afterwards in any case."""
    if package_status() not in ("", "not-installed"):
        pytest.skip("%s is already on this machine (%s); the test would "
                    "remove it: apt-get purge %s first"
                    % (PKG, package_status(), PKG))
    if os.path.exists(MODULE):
        pytest.skip("%s exists outside the package; the test would not "
                    "show where Kamailio loads aor.so from" % MODULE)
    try:
        rel = "./" + os.path.relpath(deb, kammod.ROOT)
        r = run(["apt-get", "install", "-y"] + APT_LOCK + [rel],
                cwd=kammod.ROOT, env=APT_ENV)
        assert r.returncode == 0, "apt-get install failed\n" + output(r)
        yield deb
    finally:
        if package_status() not in ("", "not-installed"):
            run(["apt-get", "purge", "-y"] + APT_LOCK + [PKG], env=APT_ENV)


def test_package_depends_on_the_exact_kamailio_version(deb):
    """A module only loads into the Kamailio it was built against, so the
    package depends on exactly the installed kamailio version."""
    r = run(["dpkg-deb", "-f", deb, "Depends"])
    assert r.returncode == 0, output(r)
    deps = [d.strip() for d in r.stdout.split(",")]
    assert "kamailio (= %s)" % installed_kamailio_version() in deps, deps


def test_package_holds_module_docs_and_examples(deb):
    """aor.so in Kamailio's module directory, README.md (and the README
    `make doc` renders) in /usr/share/doc/kamailio-aor-module/, the example
    configs under examples/."""
    r = run(["dpkg-deb", "-c", deb])
    assert r.returncode == 0, output(r)
    files = {line.split()[-1].lstrip(".") for line in r.stdout.splitlines()}
    doc = DOC_DIR + "/"
    wanted = [MODULE, doc + "copyright", doc + "examples/kamailio.cfg",
              doc + "examples/kamailio-cluster.cfg",
              doc + "examples/users.txt", doc + "examples/db/subscriber",
              doc + "examples/db/version"]
    for f in wanted:
        assert f in files, "%s not in the package:\n%s" % (f, r.stdout)
    # dh_compress gzips docs above 4 kB.
    assert {doc + "README.md", doc + "README.md.gz"} & files, r.stdout
    if os.path.exists(os.path.join(kammod.ROOT, "modules", "aor", "README")):
        assert {doc + "README", doc + "README.gz"} & files, r.stdout


def test_lintian_reports_no_errors(deb):
    r = run(["lintian", "--fail-on", "error", deb])
    print(r.stdout, r.stderr)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert r.returncode == 0 and not errors, output(r)


def test_installed_module_loads_by_name_and_routes_a_call(
        installed, kamailio_factory, uas_factory, user):
    """`loadmodule "aor.so"` with Kamailio's default module path loads the
    packaged module; REGISTER is saved and an INVITE to the AoR reaches the
    registered contact through lookup() (RFC 3261 10.3, 16.5)."""
    r = run(["dpkg", "-S", MODULE])
    assert r.returncode == 0 and r.stdout.startswith(PKG + ":"), output(r)
    k = kamailio_factory(impl="aor", aor_so="aor.so", mpath="")
    with open(k.cfg_path) as f:
        cfg = f.read()
    assert 'loadmodule "aor.so"' in cfg and "mpath" not in cfg
    with open("/proc/%d/maps" % k.proc.pid) as f:
        assert MODULE in f.read(), "Kamailio did not map " + MODULE
    uas = uas_factory()
    with k.client() as c:
        assert_ok(c.register(k.aor(user), [uas.contact(user)], expires=300))
        reply = c.invite(k.ruri(user))
    assert reply.status == 200, reply.raw
    got = uas.wait_for("INVITE")
    assert got is not None, "the INVITE did not reach the registered UAS"
    assert got.ruri == uas.contact(user)


def test_package_removes_cleanly(installed, tmp_path):
    """apt-get remove takes the module away (a cfg that loads "aor.so" no
    longer starts); dpkg --purge leaves nothing of the package."""
    r = run(["apt-get", "remove", "-y"] + APT_LOCK + [PKG], env=APT_ENV)
    assert r.returncode == 0, "apt-get remove failed\n" + output(r)
    assert not os.path.exists(MODULE)
    k = kammod.Kamailio(str(tmp_path), impl="aor", aor_so="aor.so", mpath="")
    r = run([kammod.KAMAILIO, "-c", "-f", k.cfg_path], timeout=30)
    assert r.returncode != 0, "the cfg still starts without the package\n" \
        + output(r)
    # Kamailio 5.6: "could not find module <aor> in </usr/lib/...>".
    text = r.stdout + r.stderr
    assert "<aor>" in text or "aor.so" in text, output(r)
    # With no conffiles, remove already forgets the package; purge must
    # still succeed (as it does for a package in state config-files).
    r = run(["dpkg", "--purge", PKG], env=APT_ENV)
    assert r.returncode == 0, "dpkg --purge failed\n" + output(r)
    assert package_status() in ("", "not-installed")
    assert not os.path.exists(DOC_DIR)
