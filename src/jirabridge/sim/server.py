"""Run the simulator under a real uvicorn server in a background thread (tests and benches)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette

from jirabridge.sim.app import SimConfig, create_sim_app

__all__ = ["bind_loopback", "running_sim", "serve_in_thread", "serve_on"]


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on loopback; port 0 lets the OS pick a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


@contextlib.contextmanager
def serve_on(
    app: Starlette, sock: socket.socket, *, startup_timeout: float = 30.0
) -> Iterator[None]:
    """Serve ``app`` (lifespan included) on an already bound socket in a background thread.

    For callers that must know the URL before they build the app (settings with a base URL);
    the socket stays theirs to close.
    """
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the app did not start (see its lifespan's error above)")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def serve_in_thread(app: Starlette, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 and a free port; yields the base URL, stops on exit."""
    sock = bind_loopback()
    host, port = sock.getsockname()[:2]
    base_url = f"http://{host}:{port}"
    runtime = getattr(app.state, "sim", None)
    if runtime is not None:
        runtime.set_base_url(base_url)
    try:
        with serve_on(app, sock, startup_timeout=startup_timeout):
            yield base_url
    finally:
        sock.close()


@contextlib.contextmanager
def running_sim(config: SimConfig | None = None) -> Iterator[tuple[str, Starlette]]:
    """A fresh simulator on loopback: yields ``(base_url, app)``."""
    app = create_sim_app(config or SimConfig())
    with serve_in_thread(app) as base_url:
        yield base_url, app
