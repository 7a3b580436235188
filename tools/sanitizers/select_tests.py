#!/usr/bin/env python3
"""Picks tests out of `ctest --show-only=json-v1` for tools/test-sanitized.

  select_tests.py ids JSON [--exclude=TEST...] [BINARY...]
      prints a ctest -I argument (0,0,0,n,n,...) naming the tests run by one
      of the BINARY executables (by file name) or named BINARY (tests that
      are not GoogleTest binaries, e.g. otel_sdk_e2e); with no BINARY, every
      test but dashboard_vitest (Vitest runs no C++). Tests named by
      --exclude (full ctest names) are left out. Prints nothing when none
      matches.
  select_tests.py has-label JSON LABEL
      exits 0 when one of the tests has LABEL, 1 otherwise.
"""
import json
import os
import sys


def tests(path):
    with open(path) as f:
        return json.load(f).get("tests", [])


def labels(test):
    for prop in test.get("properties", []):
        if prop["name"] == "LABELS":
            return prop["value"]
    return []


def main(argv):
    if len(argv) >= 3 and argv[1] == "ids":
        excluded = {a[len("--exclude="):] for a in argv[3:]
                    if a.startswith("--exclude=")}
        wanted = {a for a in argv[3:] if not a.startswith("--exclude=")}
        ids = []
        for number, test in enumerate(tests(argv[2]), start=1):
            command = test.get("command") or [""]
            binary = os.path.basename(command[0])
            if wanted:
                picked = binary in wanted or test["name"] in wanted
            else:
                picked = test["name"] != "dashboard_vitest"
            if picked and test["name"] not in excluded:
                ids.append(str(number))
        if ids:
            print("0,0,0," + ",".join(ids))
        return 0
    if len(argv) == 4 and argv[1] == "has-label":
        found = any(argv[3] in labels(t) for t in tests(argv[2]))
        return 0 if found else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
