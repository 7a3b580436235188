#!/usr/bin/env python3
"""A webhook receiver for the tests, independent of Vigil's code: it checks
every request's Standard Webhooks signature with Python's hmac and records
it as one JSON line.

usage: receiver.py PORT DIR [CERT KEY]   (with CERT and KEY: HTTPS)
  DIR/secret      the endpoint's whsec_ secret (read at each request)
  DIR/status      the HTTP status to answer (default 200), read each time
  DIR/delay_ms    a pause before answering (default 0)
  DIR/received.jsonl  one line per request: id, timestamp, signature, body,
                      verified, status (what was answered)
  DIR/ready       written once listening
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import time

PORT = int(sys.argv[1])
DIR = sys.argv[2]


def read(name, default):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip() or default
    except FileNotFoundError:
        return default


def verify(secret, msg_id, timestamp, body, header):
    key = base64.b64decode(secret[len("whsec_"):])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in header.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        secret = read("secret", "")
        ok = bool(secret) and verify(secret, msg_id, timestamp, body, signature)
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        status = int(read("status", "200"))
        record = {"id": msg_id, "timestamp": timestamp, "signature": signature,
                  "body": body.decode(), "verified": ok and fresh,
                  "status": status, "received_at": time.time()}
        # Recorded on arrival, before the pause: a request cut short (by a
        # timeout, a kill) still counts as sent.
        with open(os.path.join(DIR, "received.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        delay = int(read("delay_ms", "0"))
        if delay:
            time.sleep(delay / 1000.0)
        self.send_response(status)
        if status in (429, 503):
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
if len(sys.argv) > 4:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(os.path.join(DIR, "ready"), "w") as f:
    f.write("1")
server.serve_forever()
