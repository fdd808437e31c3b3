"""A real uvicorn server on a free loopback port, in a thread of the test process, and raw-socket
clients for what an HTTP library will not do (stall mid-body)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def uvicorn_server(app):
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    t0 = time.monotonic()
    while not server.started:
        if not th.is_alive() or time.monotonic() - t0 > 20:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(10)
        sock.close()


def stalled_upload(base: str, declared: int = 100_000, sent: bytes = b"RIFF") -> socket.socket:
    """Start a raw-body upload that promises ``declared`` bytes, sends a few, then goes quiet."""
    host, port = base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall((f"POST /v1/predict?filename=slow.wav HTTP/1.1\r\nHost: {host}\r\n"
               f"Content-Type: audio/wav\r\nContent-Length: {declared}\r\n\r\n").encode() + sent)
    return s


def read_response(s: socket.socket) -> tuple[int, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next((int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    status = int(buf.split(b" ", 2)[1]) if buf else 0
    return status, head + b"\r\n\r\n" + body
