"""The seeded sandbox AWS account for tests, served by moto in a process of its own.

moto keeps one state per process, shared by every server in it, and `moto_endpoint` resets that state
for each test: a sandbox served from the tests' own process would lose its seeded account to the first
such reset in the same worker. In its own process it keeps it, with the sandbox's moto shims installed
there by the seeders, as in the demo.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SEED_TIMEOUT = 300  # seconds: seeding the whole account takes a few seconds, far less under normal load


def serve(ready: Any) -> None:
    """Child process: start moto on loopback, seed the sandbox account, report the endpoint, then serve."""
    from moto.server import ThreadedMotoServer

    from collector.sandbox import seed_aws
    from collector.sandbox.base import SANDBOX_CREDENTIALS

    os.environ.update(SANDBOX_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        seed_aws(endpoint)
    except BaseException as exc:
        ready.put(("error", f"{type(exc).__name__}: {exc}"))
        raise
    ready.put(("ready", endpoint))
    threading.Event().wait()  # until the tests' process terminates this one


@contextmanager
def sandbox_server() -> Iterator[str]:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    ready = context.Queue()
    process = context.Process(target=serve, args=(ready,), name="sandbox-moto", daemon=True)
    process.start()
    try:
        status, value = ready.get(timeout=SEED_TIMEOUT)
        if status != "ready":
            raise RuntimeError(f"seeding the sandbox account failed: {value}")
        yield value
    finally:
        process.terminate()
        process.join(10)
