"""A real HTTP receiver on 127.0.0.1 for alert sinks: records every request, answers from a script."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`statuses` are answered in order, then `default`; `down=True` closes connections unanswered."""

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    down: bool = False
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook/T0KEN-in-the-path"

    def accepted(self) -> list[Received]:
        """Requests answered 2xx, in order (what the receiver actually took in)."""
        return [r for r, s in zip(self.requests, self._answers, strict=True) if 200 <= s < 300]

    _answers: list[int] = field(default_factory=list)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.down:
                    self.close_connection = True
                    self.connection.close()
                    return
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                receiver._answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
