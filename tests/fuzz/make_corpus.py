#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ (run from anywhere:
python3 tests/fuzz/make_corpus.py). Seeds are small real inputs: the events
of tests/fixtures/folds/*.json and the shapes the unit tests and
docs/http-api.md use, in each target's input format (the targets' comments
say it). Deterministic: running it again rewrites the same files. Inputs
that once failed a target are kept beside them as regress-<what> files."""

import base64
import gzip
import hashlib
import json
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fuzz/corpus"
FIXTURES = sorted((ROOT / "tests/fixtures/folds").glob("*.json"))
# domain/event_types.cc, in its order (the domain_events target's first byte).
DOMAIN_TYPES = [
    "AgentRegistered", "AgentHeartbeat", "AgentStopped", "TaskCreated",
    "TaskAssigned", "TaskStarted", "TaskProgress", "TaskCompleted",
    "TaskFailed", "MessageSent", "ToolCalled", "LlmCallCompleted",
    "SpanRecorded",
]


def fixture_events():
    events = []
    for path in FIXTURES:
        events.extend(json.loads(path.read_text())["events"])
    return events


def minified(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def write(target, seeds):
    directory = OUT / target
    directory.mkdir(parents=True, exist_ok=True)
    # Findings are kept as regress-* files; everything else is rewritten.
    for old in directory.iterdir():
        if not old.name.startswith("regress-"):
            old.unlink()
    seen = set()
    for seed in seeds:
        data = seed.encode() if isinstance(seed, str) else bytes(seed)
        if data in seen:
            continue
        seen.add(data)
        name = hashlib.sha1(data).hexdigest()[:16]
        (directory / name).write_bytes(data)
    print(f"{target}: {len(seen)} seeds")


def pick(events, count):
    """`count` events spread over the fixtures, every type included."""
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    chosen = [group[0] for group in by_type.values()]
    step = max(1, len(events) // count)
    chosen += events[::step]
    return chosen[:count]


# --- eventlog/internal/codec.h ------------------------------------------------
def be64(value):
    return struct.pack(">Q", value & (2**64 - 1))


def put_bytes(data):
    return struct.pack(">I", len(data)) + data


def record(event, position, revision):
    canonical = (b"VGE1" + be64(position) + be64(revision) +
                 be64(event.get("recorded_time_us", 0)) +
                 put_bytes(event["stream"].encode()) +
                 put_bytes(f"00000000-0000-4000-8000-{position:012d}".encode()) +
                 put_bytes(event["type"].encode()) +
                 put_bytes(b"application/json") +
                 put_bytes(minified(event["data"]).encode()) + put_bytes(b""))
    return canonical + hashlib.sha256(canonical).digest()


def record_codec_seeds(events):
    seeds = [record(e, i + 1, i) for i, e in enumerate(pick(events, 24))]
    seeds.append(seeds[0][:-1])  # truncated
    seeds.append(b"VGE1")
    # Stream-index entries: [stream length] stream [BE64 revision] value.
    for stream, revision, position, count in [("agent-w1", 0, 2, 1),
                                              ("task-t1", 3, 9, 4),
                                              ("s", 0, 1, 2**63)]:
        value = be64(position) + (be64(count) if count > 1 else b"")
        seeds.append(bytes([len(stream)]) + stream.encode() + be64(revision) +
                     value)
    seeds.append(be64(1764000001000000))  # a stream's creation time
    seeds.append(hashlib.sha256(b"request").digest() +
                 be64(1764000001000000) + be64(1) + be64(3) + be64(2))
    return seeds


# --- REST append: header lines, an empty line, the body -----------------------
def rest_event(event, index):
    out = {"type": event["type"], "data": event["data"]}
    if index % 3 == 1:
        out["event_id"] = f"6f1b2c3d-0000-4000-8000-{index:012d}"
    if index % 4 == 2:
        out["metadata"] = {"trace_id": "5b8efff798038103d269b633813fc60c"}
    return out


def rest_append_seeds(events):
    headers = ["Content-Type: application/json\n",
               "Content-Type: application/json; charset=utf-8\n"
               "Vigil-Expected-Revision: any\n",
               "Content-Type: application/json\n"
               "Vigil-Expected-Revision: no_stream\nIdempotency-Key: k-1\n",
               "Content-Type: application/json\n"
               "Vigil-Expected-Revision: 41\n",
               "Content-Type: application/json\n"
               "Vigil-Expected-Revision: stream_exists\n"
               "Idempotency-Key: 7d0b2c52-retry\n"]
    chosen = pick(events, 24)
    seeds = []
    for i, event in enumerate(chosen):
        body = minified(rest_event(event, i))
        if i % 2:
            body = minified([rest_event(e, i + j)
                             for j, e in enumerate(chosen[i:i + 3])])
        seeds.append(headers[i % len(headers)] + "\n" + body)
    seeds.append(headers[0] + "\n" + minified(
        {"type": "Blob", "content_type": "application/octet-stream",
         "data_base64": base64.b64encode(b"\x00\x01binary").decode()}))
    seeds.append("Content-Type: text/plain\n\n{}")
    seeds.append(headers[0] + "\n[]")
    return seeds


# --- query strings: first byte picks the path ---------------------------------
def query_string_seeds():
    queries = [
        "from=0&limit=100", "from=17", "limit=1000", "from=1&limit=0",
        "at=42", "at=2026-01-02T03:04:05Z", "at=2026-01-02T03:04:05+02:00",
        "agent=w1&at=10", "task=t1", "from=3&to=9", "from_time=1764000000000000",
        "status=running&manager=m1&worker=w1&limit=50",
        "cursor=eyJwIjoxMH0&limit=10", "min_position=12",
        "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&bucket=60",
        "bucket=3600&min_position=7", "streams=agent-%2A,task-&types=TaskCreated",
        "name=a+b&x=%41%42", "a=%zz", "a=%00", "a=%C3%A9", "limit=18446744073709551616",
        "from=1&from=2", "unknown=1", "trace_id=5b8efff798038103d269b633813fc60c",
        "spans=1&task_limit=5",
    ]
    return [bytes([i % 10]) + q.encode() for i, q in enumerate(queries)]


# --- domain events: first byte picks the type, the rest is data ---------------
def domain_events_seeds(events):
    seeds = []
    for event in events:
        if event["type"] in DOMAIN_TYPES:
            seeds.append(bytes([DOMAIN_TYPES.index(event["type"])]) +
                         minified(event["data"]).encode())
    seeds.append(bytes([0]) + b'{"agent_id":null,"role":"boss"}')
    seeds.append(bytes([1]) + b'{"agent_id":"w1","cpu_pct":"high"}')
    seeds.append(bytes([3]) + b'{"task_id":"t\\u0000"}')
    return seeds[:40]


# --- fold snapshots: [key length] key value -----------------------------------
def fold_snapshot_seeds():
    test = (ROOT / "tests/projections/fold_codec_test.cc").read_text()
    blobs = {}
    for name, body in re.findall(
            r"const std::string (k\w+Bytes) = absl::HexStringToBytes\((.*?)\);",
            test, re.S):
        blobs[name] = bytes.fromhex("".join(re.findall(r'"([0-9a-f]*)"', body)))

    def component(text):
        return f"{len(text)}:{text}"
    minute = "1764000000000000"
    keys = {
        "kAgentBytes": "a" + component("w1"),
        "kTaskBytes": "t" + component("t1"),
        "kPairBytes": "p" + component("m1") + component("w1"),
        "kMessageBytes": "m" + component("m1") + component("w1"),
        "kUsageBytes": "u" + component("gpt") + component(minute),
        "kAgentMinuteBytes": "g" + component("w1") + component(minute),
    }
    seeds = []
    for name, key in keys.items():
        if name in blobs:
            value = blobs[name]
            seeds.append(bytes([len(key)]) + key.encode() + value)
            seeds.append(bytes([len(key)]) + key.encode() + value[:len(value) // 2])
    seeds.append(bytes([len("t2:t9")]) + b"t2:t9")  # a removed task
    # A snapshot's index (fold_codec.h SnapshotIndex), as the unit test's.
    def u64(n):
        return n.to_bytes(8, "little")
    index = (u64(200) + u64(100) + u64(7) + u64(0) + u64(2) +
             u64(199) + u64(2) + b"t9" + u64(150) + u64(2) + b"t8")
    seeds.append(b"\x01i" + index)
    seeds.append(b"\x01i" + index[:40])
    return seeds


# --- live: a client message or a query string ---------------------------------
def live_message_seeds():
    return [
        '{"op":"ping"}', '{"op":"filter"}', '{"op":"filter","streams":[]}',
        '{"op":"filter","streams":["agent-"],"types":["TaskCreated"]}',
        '{"op":"filter","types":["AgentHeartbeat","AgentStopped"]}',
        '{"op":"filter","streams":["task-t1","task-t2"],"types":[]}',
        '{"op":"pong"}', '{"op":"filter","extra":1}', '{"op":7}', "[]",
        '{"op":"filter","streams":[""]}', '{"op":"filter","streams":[1]}',
        "from=0", "from=41&streams=agent-,task-", "types=TaskCreated,TaskFailed",
        "from_time=2026-01-02T03:04:05Z", "from_time=1764000000000000",
        "token=secret&from=3", "from=1&from_time=2026-01-02T03:04:05Z",
        "streams=a%2Cb", "format=protobuf",
    ]


# --- AppendRequest protobuf (schemas/vigil/v1/event_store.proto) --------------
def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def append_proto_seeds(events):
    seeds = []
    chosen = pick(events, 24)
    expected = [field(1, b""), field(2, b""), field(3, b""), field(4, 3), b""]
    for i, event in enumerate(chosen):
        message = field(1, event["stream"])
        if expected[i % 5]:
            message += field(2, expected[i % 5])
        if i % 3 == 0:
            message += field(3, f"key-{i}")
        for e in chosen[i:i + 1 + i % 3]:
            body = field(2, e["type"]) + field(3, minified(e["data"]))
            if i % 4 == 1:
                body += field(1, f"6f1b2c3d-0000-4000-8000-{i:012d}")
            if i % 4 == 2:
                body += field(5, '{"source":"fuzz"}')
            message += field(4, body)
        seeds.append(message)
    seeds.append(field(1, "$system") + field(4, field(2, "X") + field(3, "{}")))
    seeds.append(field(1, "blobs") + field(4, field(2, "Blob") +
                 field(3, b"\x00\xff") + field(4, "application/octet-stream")))
    return seeds


# --- OTLP: first byte bit 0 JSON, bit 1 gzip ----------------------------------
def otlp_export_seeds():
    def span(i, extra):
        base = {"traceId": f"5b8efff798038103d269b633813fc6{i:02x}",
                "spanId": f"eee19b7ec3c1b1{i:02x}", "name": "chat gpt-4o",
                "kind": 3, "startTimeUnixNano": "1764000000000000000",
                "endTimeUnixNano": "1764000001500000000",
                "status": {"code": 1}}
        base.update(extra)
        return base
    attrs = [
        {},
        {"attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "120"}},
                        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "30"}}]},
        {"attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
                        {"key": "gen_ai.tool.name", "value": {"stringValue": "search"}}]},
        {"attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                        {"key": "gen_ai.agent.id", "value": {"stringValue": "w1"}},
                        {"key": "vigil.task.id", "value": {"stringValue": "t1"}}]},
        {"parentSpanId": "eee19b7ec3c1b100", "status": {"code": 2, "message": "boom"}},
        {"events": [{"name": "exception", "timeUnixNano": "1764000001000000000"}],
         "links": [{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002"}]},
        {"attributes": [{"key": "x", "value": {"arrayValue": {"values": [{"boolValue": True}, {"doubleValue": 1.5}]}}}]},
    ]
    seeds = []
    for i, extra in enumerate(attrs):
        request = {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{"scope": {"name": "lib"}, "spans": [span(i, extra), span(i + 16, {})]}]}]}
        text = minified(request).encode()
        seeds.append(b"\x01" + text)
        seeds.append(b"\x03" + gzip.compress(text, mtime=0))
    seeds += [b"\x01{}", b'\x01{"resourceSpans":3}',
              b'\x01{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]}']
    # Protobuf: ExportTraceServiceRequest{resource_spans{scope_spans{spans}}}.
    for i in range(8):
        span_pb = (field(1, bytes.fromhex(f"5b8efff798038103d269b633813fc6{i:02x}")) +
                   field(2, bytes.fromhex(f"eee19b7ec3c1b1{i:02x}")) +
                   field(5, "chat gpt-4o") + field(6, 3))
        span_pb += (varint(7 << 3 | 1) + struct.pack("<Q", 1764000000000000000) +
                    varint(8 << 3 | 1) + struct.pack("<Q", 1764000001000000000))
        if i % 2:
            span_pb += field(9, field(1, "gen_ai.request.model") +
                             field(2, field(1, "gpt-4o")))
        message = field(1, field(2, field(2, span_pb)))
        seeds.append(b"\x00" + message)
        if i % 3 == 0:
            seeds.append(b"\x02" + gzip.compress(message, mtime=0))
    seeds.append(b"\x02" + gzip.compress(b"\x00" * 4096, mtime=0))
    return seeds


# --- vigil import: NDJSON lines of vigil export -------------------------------
def import_ndjson_seeds(events):
    lines = []
    for i, event in enumerate(pick(events, 30)):
        lines.append(minified({
            "position": i + 1, "stream": event["stream"], "revision": i % 4,
            "event_id": f"6f1b2c3d-0000-4000-8000-{i:012d}",
            "type": event["type"], "content_type": "application/json",
            "recorded_time_us": event.get("recorded_time_us", 0),
            "data_base64": base64.b64encode(minified(event["data"]).encode()).decode(),
            "metadata_base64": "",
            "hash": hashlib.sha256(str(i).encode()).hexdigest()}))
    seeds = lines[:24]
    seeds.append("\n".join(lines[24:]) + "\n")
    seeds.append(lines[0].replace('"hash":"', '"hash":"X'))
    seeds.append('{"position":-1}')
    return seeds


# --- webhooks: a registration body (or a URL) ---------------------------------
def webhook_seeds():
    urls = ["https://hooks.example.com/vigil", "http://example.com:8080/a?b=c",
            "http://127.0.0.1/", "http://127.1/", "http://0x7f.0.0.1/",
            "http://2130706433/", "http://[::1]:9000/", "http://[::ffff:10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/", "http://169.254.169.254/latest",
            "http://100.64.0.1/", "http://[fe80::1%25eth0]/", "https://10.0.0.1:443/x",
            "http://192.168.1.1", "http://[fc00::1]/", "http://0.0.0.0/",
            "http://user@example.com/", "http://example.com/#frag", "ftp://example.com/",
            "http://224.0.0.1/", "http://8.8.8.8/"]
    seeds = [minified({"url": u}) for u in urls]
    seeds += [minified({"url": urls[0], "filter": {"streams": ["agent-"], "types": ["TaskFailed"]}}),
              minified({"url": urls[1], "filter": {}}), '{"url":1}', '{"filter":{"streams":"x"}}',
              '{"url":"http://a/","extra":true}']
    seeds += urls[:10]
    return seeds


def main():
    events = fixture_events()
    write("record_codec", record_codec_seeds(events))
    write("rest_append", rest_append_seeds(events))
    write("query_string", query_string_seeds())
    write("domain_events", domain_events_seeds(events))
    write("fold_snapshot", fold_snapshot_seeds())
    write("live_message", live_message_seeds())
    write("append_proto", append_proto_seeds(events))
    write("otlp_export", otlp_export_seeds())
    write("import_ndjson", import_ndjson_seeds(events))
    write("webhook", webhook_seeds())


if __name__ == "__main__":
    main()
