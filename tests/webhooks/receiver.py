"""A webhook receiver for the tests, run as its own process: `python receiver.py PORT`.

It verifies every delivery with the reference `standardwebhooks` library against each secret it was given and keeps
a log of what came (webhook-id, which secrets verified, the body, what it answered, whether it processed the event:
the first 2xx answer for an id). What it answers is scripted over POST /_control:
  {"secrets": [...], "plan": [500, 500, "hang", 410, [429, 1]], "default": 200}
each delivery takes the next item of the plan ([status, Retry-After] for a 429 or 503; "hang": never answer), then
the default. GET /_log returns the log.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
state: dict = {"secrets": [], "plan": [], "default": 200, "log": [], "processed": set()}


def verified_by(body: bytes, headers: dict[str, str]) -> list[bool]:
    results = []
    for secret in state["secrets"]:
        try:
            Webhook(secret).verify(body, headers)
            results.append(True)
        except WebhookVerificationError:
            results.append(False)
    return results


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms wait for a delayed ACK

    def log_message(self, *args) -> None:
        return

    def _answer(self, status: int, payload: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        with lock:
            payload = json.dumps(state["log"]).encode()
        self._answer(200, payload, {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_control":
            control = json.loads(body)
            with lock:
                for key in ("secrets", "plan", "default"):
                    if key in control:
                        state[key] = control[key]
            self._answer(204)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        with lock:
            step = state["plan"].pop(0) if state["plan"] else state["default"]
        if step == "hang":
            time.sleep(30)
            return
        status, retry_after = (step[0], step[1]) if isinstance(step, list) else (step, None)
        verified = verified_by(body, headers)
        webhook_id = headers.get("webhook-id")
        with lock:
            processed = 200 <= status < 300 and all(verified) and webhook_id not in state["processed"]
            if processed:
                state["processed"].add(webhook_id)
            state["log"].append(
                {
                    "id": webhook_id,
                    "status": status,
                    "verified": verified,
                    "signatures": headers.get("webhook-signature", "").count("v1,"),
                    "host": headers.get("host"),
                    "path": self.path,
                    "body": json.loads(body) if body else None,
                    "processed": processed,
                    "at": time.time(),
                }
            )
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if 300 <= status < 400:
            extra["Location"] = "http://127.0.0.1:9/elsewhere"
        self._answer(status, b"x" * 5000 if status == 500 else b"ok", extra)


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
