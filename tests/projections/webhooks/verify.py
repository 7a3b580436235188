#!/usr/bin/env python3
"""Standard Webhooks verification as a receiver would do it, in Python's
hmac (independent of Vigil's code). usage: verify.py SECRET ID TIMESTAMP
SIGNATURE_HEADER BODY_FILE -> exit 0 when valid, 1 otherwise (bad
signature, or a timestamp more than 5 minutes from now)."""
import base64
import hashlib
import hmac
import sys
import time

secret, msg_id, timestamp, header, body_file = sys.argv[1:6]
with open(body_file, "rb") as f:
    body = f.read()
if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
    print("timestamp out of tolerance")
    sys.exit(1)
key = base64.b64decode(secret[len("whsec_"):])
expected = base64.b64encode(hmac.new(
    key, msg_id.encode() + b"." + timestamp.encode() + b"." + body,
    hashlib.sha256).digest()).decode()
for candidate in header.split(" "):
    version, _, signature = candidate.partition(",")
    if version == "v1" and hmac.compare_digest(signature, expected):
        sys.exit(0)
print("no matching signature")
sys.exit(1)
