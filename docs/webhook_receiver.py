"""A receiver for Exitdesk's webhooks: verify with `standardwebhooks`, process each webhook-id once.

pip install standardwebhooks==1.3.0
EXITDESK_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["EXITDESK_WEBHOOK_SECRET"])
seen: set[str] = set()  # in production: a table with a unique webhook-id, written with your change


def process(event: dict) -> None:
    print(event["type"], event["account"], event["sequence"], json.dumps(event["data"]), flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(400)  # not from Exitdesk (or too old): Exitdesk retries its own
        else:
            if self.headers["webhook-id"] not in seen:  # a retry of one already processed: answer 2xx only
                process(event)
                seen.add(self.headers["webhook-id"])
            self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
