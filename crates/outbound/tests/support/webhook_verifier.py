"""A webhook receiver on loopback that checks each delivery with PyPI's Standard Webhooks
library, so that our signatures are judged by code we did not write.

    webhook_verifier.py SECRET RESULTS_FILE

Prints "PORT <n>" once listening. Paths:
  /verify  204 when standardwebhooks.Webhook(SECRET).verify accepts the delivery, else 400
  /hang    answers after 60 s (for the sender's timeout)
  /fail    500
  /gone    410
Every request to /verify appends one JSON line to RESULTS_FILE:
  {"path", "valid", "error", "id", "timestamp", "signature", "body"}.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

SECRET, RESULTS = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/hang":
            time.sleep(60)
            return self.answer(204)
        if self.path == "/fail":
            return self.answer(500, b"receiver broke")
        if self.path == "/gone":
            return self.answer(410)
        headers = {k: v for k, v in self.headers.items()}
        try:
            Webhook(SECRET).verify(body, headers)
            valid, error = True, None
        except Exception as e:  # the library's verification error, or bad JSON
            valid, error = False, f"{type(e).__name__}: {e}"
        record = {
            "path": self.path,
            "valid": valid,
            "error": error,
            "id": headers.get("webhook-id"),
            "timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "body": body.decode("utf-8", "replace"),
        }
        with LOCK, open(RESULTS, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        if valid:
            self.answer(204)
        else:
            self.answer(400, (error or "").encode())


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
