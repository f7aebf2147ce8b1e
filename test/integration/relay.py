"""A lossy UDP relay of the tests' own, for the DMQ traffic between nodes.

`Relay(target_port)` listens on a free port of 127.0.0.1 of its own and
forwards each datagram it receives to 127.0.0.1:target_port, the node's
real socket, after a fault model applied to it: dropped with probability
`drop`, sent twice with probability `dup` (the copy a little later), held
back `hold_ms` (a uniform 1 .. hold_ms ms) with probability `reorder`, so
that the datagrams after it overtake it. Every random choice comes from a
`random.Random(seed)` of its own: a run is repeatable as far as the
arrival order of the datagrams is.

For DMQ a node's `server_address` is its relay's address (the other
nodes send their KDMQ requests there) and dmq's `server_socket` the
node's real local socket (the node sends from it, and its Via names it):
the requests pass the relay, their replies go back directly to the Via.
Datagrams the node sends back to the relay's address (a reply routed by
rport, were it used) are passed to the last sender seen from that
address without faults.

One thread per relay, `selectors` over its sockets; it lives at most
`lifetime` seconds (stopped by close() or by that bound, whichever comes
first). `counts` says what it did: received, forwarded, dropped,
duplicated, reordered, back (datagrams the node sent back). capture=N
keeps the last N datagrams received in `captured`.
"""

import collections
import heapq
import random
import selectors
import socket
import threading
import time

HOST = "127.0.0.1"


class Relay:
    def __init__(self, target_port, drop=0.0, dup=0.0, reorder=0.0,
                 hold_ms=20, seed=0, lifetime=900.0, port=0, capture=0):
        self.target = (HOST, target_port)
        self.rng = random.Random(seed)
        self.drop, self.dup, self.reorder = drop, dup, reorder
        self.hold_ms = hold_ms
        self.lifetime = lifetime
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.sock.bind((HOST, port))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        # one upstream socket per sender, so that what the node sends back
        # to it reaches that sender (a UDP NAT's mapping)
        self.up = {}      # sender address -> upstream socket
        self.down = {}    # upstream socket fileno -> sender address
        self.lock = threading.Lock()
        self.counts = {"received": 0, "forwarded": 0, "dropped": 0,
                       "duplicated": 0, "reordered": 0, "back": 0}
        # the last `capture` datagrams received (for a test to replay)
        self.captured = collections.deque(maxlen=capture or 1)
        self.capture = capture
        self.queue = []   # (due, seq, upstream socket, datagram)
        self.seq = 0
        self.running = True
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="relay-%d" % self.port)
        self.thread.start()

    @property
    def address(self):
        return "%s:%d" % (HOST, self.port)

    def set_faults(self, drop=None, dup=None, reorder=None):
        """Change the fault model while running (None keeps a value)."""
        with self.lock:
            if drop is not None:
                self.drop = drop
            if dup is not None:
                self.dup = dup
            if reorder is not None:
                self.reorder = reorder

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def _upstream(self, addr):
        s = self.up.get(addr)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
            s.bind((HOST, 0))
            s.setblocking(False)
            self.up[addr] = s
            self.down[s.fileno()] = addr
            self.sel.register(s, selectors.EVENT_READ, addr)
        return s

    def _push(self, due, s, data):
        self.seq += 1
        heapq.heappush(self.queue, (due, self.seq, s, data))

    def _inbound(self, data, addr, now):
        """A datagram for the node: the fault model decides its fate."""
        s = self._upstream(addr)
        with self.lock:
            self.counts["received"] += 1
            if self.capture:
                self.captured.append(data)
            r = self.rng.random()
            if r < self.drop:
                self.counts["dropped"] += 1
                return
            delay = 0.0
            if self.rng.random() < self.reorder:
                self.counts["reordered"] += 1
                delay = self.rng.uniform(1, self.hold_ms) / 1000.0
            copies = 1
            if self.rng.random() < self.dup:
                self.counts["duplicated"] += 1
                copies = 2
            dup_delay = self.rng.uniform(0, self.hold_ms) / 1000.0
        if delay == 0.0:
            self._send(s, data)
        else:
            self._push(now + delay, s, data)
        if copies == 2:
            self._push(now + delay + dup_delay, s, data)

    def _send(self, s, data):
        try:
            s.sendto(data, self.target)
        except OSError:
            return
        with self.lock:
            self.counts["forwarded"] += 1

    def _run(self):
        end = time.monotonic() + self.lifetime
        while self.running:
            now = time.monotonic()
            if now >= end:
                break
            timeout = 0.05
            if self.queue:
                timeout = max(0.0, min(timeout, self.queue[0][0] - now))
            for key, _ in self.sel.select(timeout):
                s = key.fileobj
                for _ in range(64):
                    try:
                        data, addr = s.recvfrom(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if s is self.sock:
                        self._inbound(data, addr, time.monotonic())
                    else:
                        # the node answers the sender through its mapping
                        with self.lock:
                            self.counts["back"] += 1
                        try:
                            self.sock.sendto(data, key.data)
                        except OSError:
                            pass
            now = time.monotonic()
            while self.queue and self.queue[0][0] <= now:
                _, _, s, data = heapq.heappop(self.queue)
                self._send(s, data)
        # what is still held is delivered: a relay that closes loses
        # nothing of its own accord
        while self.queue:
            _, _, s, data = heapq.heappop(self.queue)
            self._send(s, data)
        self.running = False

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sel.close()
        for s in self.up.values():
            s.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
