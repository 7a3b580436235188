#!/usr/bin/env python3
"""A corrupted data directory gives a clean error, never a crash (issue 20).

Builds a small log with `vigil append` (several flushes, so SST files, a
WAL, a MANIFEST), then, for each seed, copies it, damages one file of the
copy (bits flipped, a range zeroed, truncated, or random bytes written) and
runs `vigil verify` and `vigil stat` on it. Each must exit 0 (the damage hit
nothing that is read, or a torn WAL tail that recovery drops), 1 with an
error message, or 2 (verify: a bad record named) within 30 s: a signal
(crash, abort, sanitizer report) or a hang is a finding. Deterministic from
the seeds.

  corrupt_data_dir.py VIGIL [--cases N] [--first-seed S] [--control]

--control demands that every damaged copy verify intact, which the damage
must break: it exits 1, showing the check can fail (CTest runs it with
WILL_FAIL). Exit 0 when every case is clean, 1 on any finding.
"""
import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ALLOWED = {"verify": (0, 1, 2), "stat": (0, 1)}


def build_log(vigil: str, data: str) -> int:
    events = "".join(
        json.dumps({"type": "Note", "data": {"i": i, "pad": "x" * 200}}) + "\n"
        for i in range(300))
    streams = "abcdefgh"
    for s in streams:
        subprocess.run([vigil, "append", "--data-dir", data, "--stream", f"s-{s}"],
                       input=events, text=True, check=True, capture_output=True)
    return 300 * len(streams)


def damage(rng: random.Random, copy: str) -> str:
    files = sorted(f for f in os.listdir(copy) if f != "LOCK")
    name = rng.choice(files)
    path = os.path.join(copy, name)
    size = os.path.getsize(path)
    kind = rng.choice(["flip", "zero", "truncate", "garbage"]) if size else "garbage"
    with open(path, "r+b") as f:
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                at = rng.randrange(size)
                f.seek(at)
                byte = f.read(1)[0]
                f.seek(at)
                f.write(bytes([byte ^ (1 << rng.randrange(8))]))
        elif kind == "zero":
            at = rng.randrange(size)
            f.seek(at)
            f.write(b"\0" * min(rng.randint(1, 512), size - at))
        elif kind == "truncate":
            f.truncate(rng.randrange(size))
        else:
            f.seek(rng.randrange(max(size, 1)))
            f.write(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
    return f"{kind} {name}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("vigil")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--control", action="store_true")
    args = parser.parse_args()
    vigil = os.path.realpath(args.vigil)
    tally = collections.Counter()
    findings = []
    with tempfile.TemporaryDirectory(prefix="vigil-corrupt-") as tmp:
        data = os.path.join(tmp, "data")
        total = build_log(vigil, data)
        for seed in range(args.first_seed, args.first_seed + args.cases):
            rng = random.Random(seed)
            copy = os.path.join(tmp, f"copy-{seed}")
            shutil.copytree(data, copy)
            what = damage(rng, copy)
            for command in ("verify", "stat"):
                utf8 = True
                try:
                    run = subprocess.run([vigil, command, "--data-dir", copy],
                                         capture_output=True, timeout=30)
                    code = run.returncode
                    # Messages are text: bytes of a damaged record are
                    # shown replaced, never passed to the terminal raw.
                    for stream in ("stdout", "stderr"):
                        raw = getattr(run, stream)
                        try:
                            raw.decode("utf-8")
                        except UnicodeDecodeError:
                            utf8 = False
                        setattr(run, stream, raw.decode("utf-8", "replace"))
                except subprocess.TimeoutExpired:
                    code, run = "timeout", None
                tally[(command, code)] += 1
                allowed = (0,) if args.control else ALLOWED[command]
                clean = code in allowed and utf8
                # An error says what it is.
                if clean and code != 0 and not run.stderr.strip():
                    clean = False
                if args.control and command == "verify" and clean:
                    clean = f"{total} events checked" in run.stdout
                if not clean:
                    stderr = run.stderr.strip()[-400:] if run is not None else ""
                    findings.append(f"seed {seed} ({what}): vigil {command} "
                                    f"exited {code}"
                                    f"{'' if utf8 else ', output not UTF-8'}"
                                    f": {stderr}")
            shutil.rmtree(copy)
    print(f"corrupt_data_dir: {args.cases} damaged copies of a {total}-event log")
    for (command, code), count in sorted(tally.items(), key=str):
        print(f"  vigil {command}: exit {code}: {count}")
    for finding in findings[:20]:
        print("FINDING " + finding)
    print(f"corrupt_data_dir: {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
