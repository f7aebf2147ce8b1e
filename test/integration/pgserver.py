# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""A private PostgreSQL server for the tests and benches: Debian's
postgresql-15 binaries, a cluster made by initdb in a directory of its own
under /tmp, listening on 127.0.0.1 and a free TCP port with its unix socket
in that directory (nothing of the system's cluster is used or touched).

    pg = PgServer().start()
    pg.create_db("loc")             # Kamailio's standard + usrloc schema
    url = pg.url("loc")             # postgres://kamailio:x@127.0.0.1:PORT/loc
    pg.rows("loc")                  # the location table, as dicts
    pg.kill(); pg.start()           # SIGKILL, then crash recovery
    pg.close()                      # stopped, its directory removed

PostgreSQL refuses to run as root: the server runs as the `postgres`
system user (made by the postgresql package) through setpriv, which execs
(no fork in between), so the Popen pid is the postmaster's. psql runs as
us over TCP; every local connection is trusted (initdb --auth=trust), so
the password in the URL is not checked. fsync is off: a killed server loses
nothing the kernel has (the writes are in the page cache), only a machine
crash would. A server left running when the interpreter exits is killed
(atexit), so none outlives a test run."""

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PGBIN = os.environ.get("AOR_PGBIN", "/usr/lib/postgresql/15/bin")
SCHEMA = "/usr/share/kamailio/postgres"
PSQL = os.path.join(PGBIN, "psql")
DB_USER = "kamailio"
OS_USER = "postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# usrloc's location schema version 9, in the order of stock's create script
COLS = ["ruid", "username", "domain", "contact", "received", "path",
        "expires", "q", "callid", "cseq", "last_modified", "flags", "cflags",
        "user_agent", "socket", "methods", "instance", "reg_id", "server_id",
        "connection_id", "keepalive", "partition"]
INT_COLS = {"cseq", "flags", "cflags", "methods", "reg_id", "server_id",
            "connection_id", "keepalive", "partition"}

# what psql prints for NULL, and between fields and rows (no column we
# read holds these bytes)
NULL = "\x01NULL\x01"
FS, RS = "\x1f", "\x1e"

_servers = []


class PgError(Exception):
    pass


def _missing():
    """Why no server can be made here, or None."""
    for p in (os.path.join(PGBIN, "initdb"), os.path.join(PGBIN, "postgres"),
              PSQL):
        if not os.access(p, os.X_OK):
            return ("%s is missing: install Debian's postgresql "
                    "(tools/install-deps.sh test)" % p)
    if not os.path.exists(os.path.join(SCHEMA, "usrloc-create.sql")):
        return ("%s is missing: install kamailio-postgres-modules "
                "(tools/install-deps.sh test)" % SCHEMA)
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return "no %s system user (the postgresql package makes it)" % OS_USER
    return None


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(pid):
    """pid is there and not a zombie (a killed backend waits to be reaped
    by whoever inherited it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


class PgServer:
    def __init__(self, port=None, settings=None):
        """settings: more `-c name=value` server settings."""
        why = _missing()
        if why:
            raise PgError(why)
        pw = pwd.getpwnam(OS_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        # under /tmp, not pytest's tmp_path: every directory above the
        # data must be open to the postgres user, and pytest's are 0700
        self.dir = tempfile.mkdtemp(prefix="aor-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "postgres.log")
        os.mkdir(self.sock)
        for d in (self.dir, self.sock):
            os.chown(d, self.uid, self.gid)
        self.port = port or free_tcp_port()
        self.settings = {"listen_addresses": "127.0.0.1", "fsync": "off",
                         "full_page_writes": "off", "max_connections": "50",
                         "shared_buffers": "64MB"}
        self.settings.update(settings or {})
        self.proc = None
        self.made = False
        _servers.append(self)

    # -- process -----------------------------------------------------------

    def _as_postgres(self, argv):
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid,
                "--init-groups", "--"] + argv

    def _initdb(self):
        r = subprocess.run(self._as_postgres([
            os.path.join(PGBIN, "initdb"), "-D", self.data, "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]),
            cwd=self.dir, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise PgError("initdb failed (%d): %s%s" % (r.returncode,
                                                        r.stdout, r.stderr))
        self.made = True

    def start(self, timeout=START_TIMEOUT):
        """Starts the server (initdb the first time) and waits until it
        takes connections; after kill() this is crash recovery. Returns
        self; raises PgError with the log's tail if it does not come up."""
        if self.alive():
            return self
        if not self.made:
            self._initdb()
        argv = [os.path.join(PGBIN, "postgres"), "-D", self.data,
                "-p", str(self.port), "-k", self.sock]
        for k, v in self.settings.items():
            argv += ["-c", "%s=%s" % (k, v)]
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self._as_postgres(argv), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PgError("postgres exited with %s during start\n%s"
                              % (self.proc.returncode, self.log_tail()))
            r = subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q",
                                "-h", "127.0.0.1", "-p", str(self.port),
                                "-U", "postgres", "-d", "postgres"],
                               capture_output=True, timeout=10)
            if r.returncode == 0:
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise PgError("postgres not ready in %.0f s\n%s"
                              % (timeout, self.log_tail()))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _wait_gone(self, timeout):
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def children(self):
        """The pids of the postmaster's children (its backends and helper
        processes: each makes a session of its own, so they are not in
        the postmaster's process group)."""
        if self.proc is None:
            return []
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces
            if int(st[st.rindex(")") + 2:].split()[1]) == self.proc.pid:
                out.append(int(d))
        return out

    def kill(self):
        """A crash: the postmaster stopped (it forks no more), every
        process it forked SIGKILLed by pid, then the postmaster; returns
        once all are gone. The next start() recovers from the WAL."""
        if self.proc is None:
            return
        pids = []
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)
            pids = self.children()
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait_gone(STOP_TIMEOUT)
        # the backends are not our children: wait until each is gone
        deadline = time.monotonic() + STOP_TIMEOUT
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _running(p)]
            time.sleep(0.01)
        self.proc = None

    def stop(self):
        """A fast shutdown (SIGINT), SIGKILL after a bound."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self._wait_gone(STOP_TIMEOUT)
        self.kill()

    def close(self):
        """Stopped, and its directory gone."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self in _servers:
            _servers.remove(self)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- SQL ---------------------------------------------------------------

    def url(self, db, user=DB_USER):
        """db_url for Kamailio's db_postgres."""
        return "postgres://%s:x@127.0.0.1:%d/%s" % (user, self.port, db)

    def psql(self, sql, db="postgres", user=DB_USER, stdin=None, timeout=60):
        """Runs sql (a string, or None to read stdin: a file object) with
        ON_ERROR_STOP; returns psql's output (-At). Raises PgError."""
        argv = [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", user,
                "-d", db, "-F", FS, "-R", RS, "-P", "null=" + NULL]
        if sql is not None:
            argv += ["-c", sql]
        r = subprocess.run(argv, stdin=stdin or subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise PgError("psql %s: %s" % (sql and sql[:200],
                                           r.stderr.decode(errors="replace")))
        return r.stdout.decode()

    def query(self, sql, db, user=DB_USER):
        """The rows of a SELECT as tuples of str (None for NULL)."""
        out = self.psql(sql, db, user=user)
        if out.endswith("\n"):
            out = out[:-1]
        if not out:
            return []
        return [tuple(None if f == NULL else f for f in r.split(FS))
                for r in out.split(RS)]

    def create_db(self, db):
        """A new database owned by the kamailio role (made the first time)
        with Kamailio's standard and usrloc tables."""
        if not self.query("SELECT 1 FROM pg_roles WHERE rolname='%s'"
                          % DB_USER, "postgres", user="postgres"):
            self.psql("CREATE ROLE %s LOGIN" % DB_USER, user="postgres")
        self.psql('CREATE DATABASE "%s" OWNER %s' % (db, DB_USER),
                  user="postgres")
        for f in ("standard-create.sql", "usrloc-create.sql"):
            with open(os.path.join(SCHEMA, f), "rb") as fh:
                self.psql(None, db, stdin=fh)
        return db

    def copy(self, db, table, cols, rows):
        """rows (tuples of values, None for NULL; no tab or newline in a
        value) into table's cols by one COPY FROM STDIN; returns the
        seconds the COPY took."""
        path = os.path.join(self.dir, "copy.tsv")
        with open(path, "w") as f:
            for r in rows:
                f.write("\t".join("\\N" if v is None else str(v)
                                  for v in r) + "\n")
        t0 = time.monotonic()
        try:
            with open(path, "rb") as f:
                self.psql("COPY %s (%s) FROM STDIN" % (table, ",".join(cols)),
                          db, stdin=f, timeout=3600)
        finally:
            os.unlink(path)
        return time.monotonic() - t0

    def create_reader(self, db, user="kamailioro"):
        """A role that may only read db's tables (as a read-only replica's
        user, or a DB_READONLY setup): any write through it fails."""
        if not self.query("SELECT 1 FROM pg_roles WHERE rolname='%s'"
                          % user, "postgres", user="postgres"):
            self.psql("CREATE ROLE %s LOGIN" % user, user="postgres")
        self.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s" % user,
                  db)
        return user

    def rows(self, db, table="location", where=""):
        """The location table as dicts of COLS, ordered by contact: ints
        for the integer columns, a float for q, timestamps as text
        ("YYYY-MM-DD HH:MM:SS", as Kamailio's db_postgres writes them, in
        the server's local time), None for NULL."""
        got = self.query("SELECT %s FROM %s %s ORDER BY contact, ruid"
                         % (",".join('"%s"' % c for c in COLS), table, where),
                         db)
        out = []
        for r in got:
            d = dict(zip(COLS, r))
            for c in INT_COLS:
                if d[c] is not None:
                    d[c] = int(d[c])
            d["q"] = float(d["q"])
            out.append(d)
        return out


@atexit.register
def _close_all():
    """Last resort: no server outlives the interpreter."""
    for s in list(_servers):
        s.close()
