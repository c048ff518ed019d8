"""The HTTP load generator: client processes on raw keep-alive sockets (see below)."""

import multiprocessing
import random
import re
import socket
import time

from bench.harness import CLIENTS
from bench.server import Server

LOAD_CPU: list[float] = []  # load generator CPU seconds per request, per load() call


# The load generator. pgbench's clients are C; ours must not eat the CPU the server needs
# either (2 cores run the server, PostgreSQL, Redis and the clients alike). So each client is a
# separate process (no GIL shared with the others or the bench) holding one keep-alive socket,
# and sends requests built into bytes before the clock starts: per request it only does a
# sendall() and reads the answer up to its Content-Length. What it costs is printed by load()
# (client CPU ms per request), so it can be compared with the server's own.
PREBUILT = 256  # distinct requests per client, cycled (random products, as pgbench draws)


def _request_bytes(port: int, method: str, path: str, body: str | None, headers: dict) -> bytes:
    payload = (body or "").encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None or method != "GET":
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Read one HTTP/1.1 response (Content-Length framed) off sock: its status code, and
    whether the server closes the connection after it."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1")
    status = int(head[9:12])
    found = re.search(r"(?im)^content-length:\s*(\d+)", head)
    if found is None:
        raise RuntimeError(f"no Content-Length in the response: {head!r}")
    total = end + 4 + int(found.group(1))
    while len(buffer) < total:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    del buffer[:total]
    return status, re.search(r"(?im)^connection:\s*close", head) is not None


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _client(port: int, requests: list[bytes], start: float, stop: float, out) -> None:
    """One client process: requests back to back on one connection from `start` to `stop`
    (a new one if the server closes it: gunicorn's sync workers do after each request)."""
    sock = _connect(port)
    buffer = bytearray()
    done, error = 0, None
    time.sleep(max(0.0, start - time.monotonic()))
    cpu = time.process_time()
    while time.monotonic() < stop:
        sock.sendall(requests[done % len(requests)])
        status, closed = _read_response(sock, buffer)
        if status >= 300:
            error = f"{requests[done % len(requests)][:60]!r}...: {status}"
            break
        if time.monotonic() <= stop:  # completed inside the window (pgbench -T counts so too)
            done += 1
        if closed:
            sock.close()
            sock = _connect(port)
    out.send((done, time.process_time() - cpu, error))
    sock.close()


def load(server: Server, make_request, seconds: float) -> float:
    """Requests per second from CLIENTS client processes, each on its own keep-alive
    connection, all started together and stopped together."""
    requests = []
    for n in range(CLIENTS):
        rng = random.Random(n)  # noqa: S311
        requests.append(
            [_request_bytes(server.port(n), *make_request(n, rng)) for _ in range(PREBUILT)]
        )
    context = multiprocessing.get_context("fork")
    start = time.monotonic() + 0.2  # every client forked and connected before the clock starts
    stop = start + seconds
    pipes, procs = [], []
    for n in range(CLIENTS):
        receive, send = context.Pipe(duplex=False)
        proc = context.Process(
            target=_client, args=(server.port(n), requests[n], start, stop, send)
        )
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join()
    errors = [error for _, _, error in results if error]
    if errors:
        raise RuntimeError(errors[0])
    done = sum(count for count, _, _ in results)
    LOAD_CPU.append(sum(cpu for _, cpu, _ in results) / max(1, done))
    return done / seconds
