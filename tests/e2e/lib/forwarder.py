"""A TCP forwarder that counts the bytes it carries each way, for end-to-end tests that measure
what crosses a connection between two real daemons (e.g. the link: the inner's edge.address
points at the forwarder, which connects on to the edge's link port).

Plain byte copying, nothing parsed or changed; a connection that cannot reach the target is
closed at once, as a refused connect would be. Threads, one listener and two pumps per
connection; registered with the harness so a failing test leaves nothing listening.
Trust: a test on a developer or CI machine, like harness.py. Python 3 standard library only.
"""

import socket
import threading

import harness as h


class CountingForwarder:
    """127.0.0.1:port -> host:target_port. `up` counts bytes from the dialing side to the
    target, `down` from the target back; counts() reads both at once."""

    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = h.free_port()
        self._lock = threading.Lock()
        self._up = 0
        self._down = 0
        self.connections = 0
        self._socks = set()
        self._listener = None
        self._stopped = False

    def counts(self):
        """(up, down): bytes carried so far towards the target and back."""
        with self._lock:
            return self._up, self._down

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self._listener = s
        h._register(self)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self._stopped = True
        with self._lock:
            socks = list(self._socks)
            self._socks.clear()
        for s in [self._listener] + socks:
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        h._unregister(self)

    __enter__ = start

    def __exit__(self, *a):
        self.stop()

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopped:
                    client.close()
                    server.close()
                    return
                self.connections += 1
                self._socks.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, up):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                with self._lock:
                    if up:
                        self._up += len(data)
                    else:
                        self._down += len(data)
        except OSError:
            pass
        # Pass the end on (a half close stays a half close), and let the other pump finish.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:
            done = src in self._socks and dst not in self._socks
            self._socks.discard(src)
        if done:
            src.close()
            dst.close()
