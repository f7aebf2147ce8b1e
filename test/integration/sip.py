"""Minimal SIP-over-UDP tools for the integration tests.

Everything here is plain Python 3 standard library: a message builder, a reply
parser that understands multiple and comma-separated Contact headers, a UAC
(`Client`) that sends a request and waits (bounded) for its final reply, the
same over one TCP connection (`TcpClient`), and a UAS (`Uas`) that answers
INVITEs in a thread and records what it received.
"""

import random
import re
import socket
import string
import threading
import time

HOST = "127.0.0.1"

# RFC 3261 7.3.3 compact header forms.
COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding",
    "l": "content-length", "c": "content-type", "f": "from",
    "s": "subject", "k": "supported", "t": "to", "v": "via",
}


def free_udp_port():
    """Return a UDP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def free_port(tcp_span=1, tries=50, below=None):
    """A UDP port p on 127.0.0.1 that was free a moment ago, with the TCP
    ports p .. p+tcp_span-1 free as well: for a server that listens on UDP
    and TCP (etc/kamailio.cfg), or also on p+1 (baresip's TLS). below: a
    port under this number (picked at random from 5100 up), for clients
    that cannot take a five-digit port (sipsak 0.9.8)."""
    if below is not None:
        tries *= 4
    for _ in range(tries):
        if below is None:
            port = free_udp_port()
        else:
            port = random.randint(5100, below - 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((HOST, port))
                except OSError:
                    continue
        if port + tcp_span > 65535:
            continue
        socks = []
        try:
            for p in range(port, port + tcp_span):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((HOST, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP+TCP port span in %d tries" % tries)


def token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits)
                   for _ in range(n))


def new_branch():
    return "z9hG4bK" + token(16)


def split_commas(value):
    """Split a header value on commas outside quotes and <...>."""
    out, cur, quote, angle = [], [], False, False
    i = 0
    while i < len(value):
        ch = value[i]
        if quote:
            if ch == "\\" and i + 1 < len(value):
                cur.append(ch)
                i += 1
                ch = value[i]
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "," and not angle:
            out.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def split_params(text):
    """';a=1;b;c="x;y"' -> {'a': '1', 'b': None, 'c': 'x;y'} (keys lowercased)."""
    params = {}
    parts, cur, quote = [], [], False
    for ch in text:
        if ch == '"':
            quote = not quote
        if ch == ";" and not quote:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            params[k.strip().lower()] = v
        else:
            params[p.lower()] = None
    return params


class Contact:
    """One contact of a Contact header: uri (without <>), display name, params."""

    def __init__(self, raw):
        self.raw = raw.strip()
        self.display = ""
        rest = self.raw
        if rest == "*":
            self.uri, self.params = "*", {}
            return
        if "<" in rest:
            self.display = rest[:rest.index("<")].strip().strip('"')
            self.uri = rest[rest.index("<") + 1:rest.index(">")].strip()
            self.params = split_params(rest[rest.index(">") + 1:])
        else:
            # Without <>, every ;param belongs to the header (RFC 3261 20.10).
            uri, _, p = rest.partition(";")
            self.uri, self.params = uri.strip(), split_params(p)

    @property
    def expires(self):
        v = self.params.get("expires")
        return None if v is None else int(v)

    @property
    def q(self):
        v = self.params.get("q")
        return None if v is None else float(v)

    def __repr__(self):
        return "Contact(%r, %r)" % (self.uri, self.params)


class Message:
    """A parsed SIP message (request or reply)."""

    def __init__(self, data, addr=None):
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        self.raw = data
        self.addr = addr
        head, _, self.body = data.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.first_line = lines[0]
        self.headers = []  # [(lower-case long name, value)] in order
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            if ":" not in line:
                continue
            n, v = line.split(":", 1)
            n = n.strip().lower()
            self.headers.append((COMPACT.get(n, n), v.strip()))
        parts = self.first_line.split(" ", 2)
        if parts[0].startswith("SIP/"):
            self.is_reply = True
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
            self.ruri = None
        else:
            self.is_reply = False
            self.status = None
            self.reason = None
            self.method = parts[0]
            self.ruri = parts[1] if len(parts) > 1 else ""

    def get(self, name, default=None):
        name = COMPACT.get(name.lower(), name.lower())
        for n, v in self.headers:
            if n == name:
                return v
        return default

    def get_all(self, name):
        """All values of a header, comma lists split into separate items."""
        name = COMPACT.get(name.lower(), name.lower())
        out = []
        for n, v in self.headers:
            if n == name:
                out.extend(split_commas(v))
        return out

    def has(self, name):
        return self.get(name) is not None

    def contacts(self):
        return [Contact(c) for c in self.get_all("contact")]

    def contact_uris(self):
        return [c.uri for c in self.contacts()]

    def contact(self, uri):
        """The Contact whose URI equals uri exactly, or None."""
        for c in self.contacts():
            if c.uri == uri:
                return c
        return None

    @property
    def cseq(self):
        n, _, m = self.get("cseq", "0 X").partition(" ")
        return int(n), m.strip()

    @property
    def to_tag(self):
        return split_params(self.get("to", "").partition(">")[2]).get("tag")

    def __repr__(self):
        return "<%s>" % self.first_line

    def __str__(self):
        return self.raw


def build(first_line, headers, body=""):
    """headers: list of (name, value); value None drops the header."""
    lines = [first_line]
    for n, v in headers:
        if v is None:
            continue
        lines.append("%s: %s" % (n, v))
    if not any(n.lower() in ("content-length", "l") for n, _ in headers):
        lines.append("Content-Length: %d" % len(body.encode()))
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def format_contact(c):
    """A contact given as a raw string, or (uri, params) with params a dict,
    a string like ';q=0.5', or None."""
    if isinstance(c, str):
        return c
    uri, params = c
    if params is None:
        params = ""
    if isinstance(params, dict):
        params = "".join(";%s" % k if v is None else ";%s=%s" % (k, v)
                         for k, v in params.items())
    return "<%s>%s" % (uri, params)


class Timeout(Exception):
    pass


class Client:
    """A UDP user agent client on 127.0.0.1 talking to one server."""

    def __init__(self, server_port, server_host=HOST, port=0, sock=None):
        self.server = (server_host, server_port)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, port))
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.cseq = random.randint(1, 1000)
        self.call_id = token(16) + "@" + HOST

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- low level ---------------------------------------------------------

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendto(data, self.server)

    def recv(self, timeout=2.0, match=None):
        """Next message for which match(msg) is true, within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no SIP message within %.1fs" % timeout)
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                raise Timeout("no SIP message within %.1fs" % timeout)
            msg = Message(data, addr)
            if match is None or match(msg):
                return msg

    def final_reply(self, call_id, cseq_num=None, timeout=2.0):
        """Skip provisional replies and strays; return the final reply."""
        def match(m):
            if not m.is_reply or m.status < 200:
                return False
            if m.get("call-id") != call_id:
                return False
            return cseq_num is None or m.cseq[0] == cseq_num
        return self.recv(timeout, match)

    def transact(self, data, call_id, cseq_num=None, timeout=2.0):
        self.send_raw(data)
        return self.final_reply(call_id, cseq_num, timeout)

    def no_reply(self, call_id, timeout=1.0):
        """True when no final reply for call_id arrives within timeout."""
        try:
            self.final_reply(call_id, timeout=timeout)
            return False
        except Timeout:
            return True

    # -- requests ----------------------------------------------------------

    def via(self, branch=None):
        return "SIP/2.0/UDP %s:%d;branch=%s;rport" % (
            HOST, self.port, branch or new_branch())

    def request(self, method, ruri, to, from_=None, call_id=None, cseq=None,
                headers=(), override=None, body="", branch=None):
        """Build a request. override: {header name: value or None} replaces
        (or with None removes) the standard header of that name."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        call_id = call_id or self.call_id
        from_ = from_ or to
        std = [
            ("Via", self.via(branch)),
            ("Max-Forwards", "70"),
            ("To", "<%s>" % to),
            ("From", "<%s>;tag=%s" % (from_, token(8))),
            ("Call-ID", call_id),
            ("CSeq", "%d %s" % (cseq, method)),
            ("User-Agent", "aor-integration-test"),
        ]
        override = {k.lower(): v for k, v in (override or {}).items()}
        hdrs = []
        for n, v in std:
            if n.lower() in override:
                v = override.pop(n.lower())
            hdrs.append((n, v))
        hdrs.extend(headers)
        for n, v in override.items():
            hdrs.append((n, v))
        first = "%s %s SIP/2.0" % (method, ruri)
        return build(first, hdrs, body), call_id, cseq

    def register(self, aor, contacts=(), expires=None, call_id=None, cseq=None,
                 headers=(), path=None, override=None, ruri=None, timeout=2.0,
                 wait=True):
        """REGISTER for aor ('sip:user@host'). contacts: raw strings or
        (uri, params); an empty list makes a query. expires: Expires header
        value (None: no header). path: a string or list of Path values
        (also adds 'Supported: path'). Returns the final reply."""
        hdrs = []
        for c in contacts:
            hdrs.append(("Contact", format_contact(c)))
        if expires is not None:
            hdrs.append(("Expires", str(expires)))
        if path is not None:
            if isinstance(path, str):
                path = [path]
            hdrs.append(("Supported", "path"))
            for p in path:
                hdrs.append(("Path", p))
        hdrs.extend(headers)
        if ruri is None:
            ruri = "sip:%s:%d" % self.server
        data, cid, cs = self.request("REGISTER", ruri, aor, call_id=call_id,
                                     cseq=cseq, headers=hdrs, override=override)
        if not wait:
            self.send_raw(data)
            return cid, cs
        return self.transact(data, cid, cs, timeout)

    def query(self, aor, timeout=2.0):
        """A REGISTER without Contact: the 200 OK lists the bindings."""
        return self.register(aor, call_id=token(16), timeout=timeout)

    def options(self, ruri=None, timeout=2.0):
        ruri = ruri or "sip:%s:%d" % self.server
        data, cid, cs = self.request("OPTIONS", ruri, ruri, call_id=token(16))
        return self.transact(data, cid, cs, timeout)

    def invite(self, ruri, to=None, timeout=5.0, headers=(), method="INVITE",
               ack=True):
        """Send an INVITE (or another method) and return the final reply.
        A non-2xx final reply to INVITE is ACKed hop-by-hop (RFC 3261 17.1.1.3)."""
        branch = new_branch()
        call_id = token(16)
        body = ""
        hdrs = list(headers)
        hdrs.append(("Contact", "<sip:caller@%s:%d>" % (HOST, self.port)))
        if method == "INVITE":
            body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
                    "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                    "m=audio 9 RTP/AVP 0\r\n")
            hdrs.append(("Content-Type", "application/sdp"))
        data, cid, cs = self.request(method, ruri, to or ruri,
                                     from_="sip:caller@%s" % HOST,
                                     call_id=call_id, headers=hdrs,
                                     body=body, branch=branch)
        reply = self.transact(data, cid, cs, timeout)
        if method == "INVITE" and ack and reply.status >= 300:
            ack_hdrs = [
                ("Via", self.via(branch)),
                ("Max-Forwards", "70"),
                ("To", reply.get("to")),
                ("From", Message(data).get("from")),
                ("Call-ID", call_id),
                ("CSeq", "%d ACK" % cs),
            ]
            self.send_raw(build("ACK %s SIP/2.0" % ruri, ack_hdrs))
        return reply


def parse_stream(buf):
    """Complete messages at the head of a TCP byte stream (RFC 3261 18.3:
    each framed by its Content-Length), and the rest."""
    out = []
    while b"\r\n\r\n" in buf:
        head, _, rest = buf.partition(b"\r\n\r\n")
        m = Message(head + b"\r\n\r\n")
        n = int(m.get("content-length", "0") or 0)
        if len(rest) < n:
            break
        out.append(Message(head + b"\r\n\r\n" + rest[:n]))
        buf = rest[n:]
    return out, buf


class TcpClient(Client):
    """A Client over one TCP connection to the server. recv() raises
    ConnectionResetError once the server has closed the connection."""

    def __init__(self, server_port, server_host=HOST, timeout=3):
        s = socket.create_connection((server_host, server_port), timeout)
        super().__init__(server_port, server_host, sock=s)
        self.buf = b""
        self.pending = []

    def via(self, branch=None):
        return "SIP/2.0/TCP %s:%d;branch=%s;rport" % (
            HOST, self.port, branch or new_branch())

    def contact(self, user):
        return "sip:%s@%s:%d;transport=tcp" % (user, HOST, self.port)

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def recv(self, timeout=2.0, match=None):
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                m = self.pending.pop(0)
                if match is None or match(m):
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no SIP message within %.1fs" % timeout)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                raise Timeout("no SIP message within %.1fs" % timeout)
            except ConnectionError:
                data = b""
            if not data:
                raise ConnectionResetError("connection closed by the server")
            msgs, self.buf = parse_stream(self.buf + data)
            self.pending += msgs

    def eof_within(self, timeout):
        """True when the server closes the connection within timeout
        seconds (what it sends meanwhile is read and dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                if not self.sock.recv(65535):
                    return True
            except socket.timeout:
                return False
            except ConnectionError:
                return True


class Uas:
    """A UDP user agent server on a free port, run in a thread.

    It answers every INVITE with 100, 180 (unless ring=False), then `code`
    (200 by default; all with one To tag), other requests (except ACK) with 200, and records every request
    it receives in `self.requests`. Use wait_for() to block (bounded) until
    a request arrives. sock: serve on an already bound UDP socket (e.g. the
    one a REGISTER was sent from).
    """

    def __init__(self, code=200, delay=0.0, sock=None, ring=True):
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
        self.sock = sock
        self.port = self.sock.getsockname()[1]
        self.code = code
        self.delay = delay
        self.ring = ring
        self.tag = token(6)
        self.requests = []
        self.cond = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def uri(self):
        return "sip:uas@%s:%d" % (HOST, self.port)

    def contact(self, user="uas"):
        return "sip:%s@%s:%d" % (user, HOST, self.port)

    def _reply(self, req, code, reason, to_tag=None):
        hdrs = []
        for n, v in req.headers:
            if n == "via":
                hdrs.append(("Via", v))
        to = req.get("to", "")
        if to_tag and "tag=" not in to:
            to += ";tag=" + to_tag
        hdrs += [("To", to), ("From", req.get("from")),
                 ("Call-ID", req.get("call-id")), ("CSeq", req.get("cseq"))]
        if code == 200 and req.method == "INVITE":
            hdrs.append(("Contact", "<%s>" % self.uri))
        data = build("SIP/2.0 %d %s" % (code, reason), hdrs)
        self.sock.sendto(data, req.addr)

    def _run(self):
        self.sock.settimeout(0.2)
        reasons = {200: "OK", 486: "Busy Here", 487: "Request Terminated",
                   480: "Temporarily Unavailable", 603: "Decline"}
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            msg = Message(data, addr)
            if msg.is_reply:
                continue
            with self.cond:
                self.requests.append(msg)
                self.cond.notify_all()
            try:
                if msg.method == "ACK":
                    continue
                if msg.method == "INVITE":
                    self._reply(msg, 100, "Trying")
                    if self.ring:
                        self._reply(msg, 180, "Ringing", self.tag)
                    if self.delay:
                        time.sleep(self.delay)
                    self._reply(msg, self.code,
                                reasons.get(self.code, "Reply"), self.tag)
                elif msg.method == "CANCEL":
                    self._reply(msg, 200, "OK")
                else:
                    self._reply(msg, 200, "OK", token(6))
            except OSError:
                return

    def wait_for(self, method="INVITE", timeout=3.0):
        """The first received request of this method, or None after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.requests:
                    if r.method == method:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def received(self, method="INVITE"):
        with self.cond:
            return [r for r in self.requests if r.method == method]

    def clear(self):
        with self.cond:
            self.requests = []

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class Subscriber:
    """A watcher (RFC 6665) on a UDP socket of its own: SUBSCRIBEs to one
    resource at a notifier on 127.0.0.1 and, in a thread, answers every
    NOTIFY of that dialog (and any other) with 200 and records it in
    `self.notifies` in arrival order. Retransmissions of a NOTIFY (same
    CSeq) are answered again but recorded once."""

    def __init__(self, server_port, resource, event="reg",
                 accept="application/reginfo+xml"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.server = (HOST, server_port)
        self.resource = resource
        self.event = event
        self.accept = accept
        self.call_id = token(16) + "@" + HOST
        self.from_tag = token(8)
        self.notifies = []
        self.replies = []
        self.cond = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def contact(self):
        return "sip:watcher@%s:%d" % (HOST, self.port)

    def subscribe(self, expires=600, timeout=2.0):
        """Send the initial SUBSCRIBE; return its final reply (bounded)."""
        hdrs = [("Via", "SIP/2.0/UDP %s:%d;branch=%s;rport"
                 % (HOST, self.port, new_branch())),
                ("Max-Forwards", "70"),
                ("To", "<%s>" % self.resource),
                ("From", "<%s>;tag=%s" % (self.contact, self.from_tag)),
                ("Call-ID", self.call_id), ("CSeq", "1 SUBSCRIBE"),
                ("Contact", "<%s>" % self.contact),
                ("Event", self.event), ("Accept", self.accept),
                ("Expires", str(expires))]
        self.sock.sendto(build("SUBSCRIBE %s SIP/2.0" % self.resource,
                               hdrs), self.server)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.replies:
                    if r.status >= 200:
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout("no final reply to SUBSCRIBE in %.1fs"
                                  % timeout)
                self.cond.wait(left)

    def _answer(self, req):
        hdrs = [("Via", v) for n, v in req.headers if n == "via"]
        hdrs += [("To", req.get("to")), ("From", req.get("from")),
                 ("Call-ID", req.get("call-id")), ("CSeq", req.get("cseq"))]
        self.sock.sendto(build("SIP/2.0 200 OK", hdrs), req.addr)

    def _run(self):
        self.sock.settimeout(0.2)
        seen = set()
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            msg = Message(data, addr)
            with self.cond:
                if msg.is_reply:
                    self.replies.append(msg)
                elif msg.method == "NOTIFY":
                    key = (msg.get("call-id"), msg.get("cseq"))
                    if key not in seen:
                        seen.add(key)
                        self.notifies.append(msg)
                self.cond.notify_all()
            if not msg.is_reply and msg.method != "ACK":
                try:
                    self._answer(msg)
                except OSError:
                    return

    def wait_notifies(self, n, timeout):
        """The first n NOTIFYs, or fewer (all there are) after timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.notifies) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.notifies[:n])

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def wait_until(pred, timeout, interval=0.1):
    """Poll pred() until it returns a true value or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def uri_user_host(uri):
    m = re.match(r"sips?:(?:([^@;>]*)@)?([^;>?]*)", uri)
    return (m.group(1), m.group(2)) if m else (None, None)
