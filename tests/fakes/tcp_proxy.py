"""A TCP forwarder on loopback that a test can cut and restore, to stage a network outage between
the gateway and a real service (PostgreSQL).

    with TcpProxy("127.0.0.1", 5432) as proxy:   # listens on 127.0.0.1:proxy.port
        ...
        proxy.cut()       # drop every open connection; new ones are accepted and closed at once
        proxy.restore()   # forward again

While cut, the port stays bound (so it cannot be taken by anyone else) and clients fail fast with
"connection closed" instead of waiting for a connect timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._stop = threading.Event()
        self._accepter = threading.Thread(
            target=self._accept_loop, name=f"tcp-proxy-{self.port}", daemon=True
        )
        self.accepted = 0  # connections forwarded (for tests of the proxy itself)
        self.refused = 0  # connections closed because the proxy was cut

    # -- control ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._accepter.start()
        return self

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """Close every forwarded connection and refuse (accept and close) new ones."""
        with self._lock:
            self._cut = True
            socks, self._open = list(self._open), set()
        for s in socks:
            _kill(s)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._stop.set()
        self.cut()
        if self._accepter.is_alive():
            self._accepter.join(5)
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- forwarding ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self._cut:
                self.refused += 1
                _kill(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _kill(client)
                continue
            with self._lock:
                if self._cut:  # cut while we were connecting
                    self.refused += 1
                    _kill(client)
                    _kill(server)
                    continue
                self._open.update((client, server))
                self.accepted += 1
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(_CHUNK)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # either side ending ends the pair: both directions stop
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _kill(src)
            _kill(dst)


def _kill(s: socket.socket) -> None:
    """Shut down (which wakes a thread blocked in recv on it) and close."""
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
