#!/usr/bin/env python3
"""4 KiB write + fdatasync pairs per second on one file: bench_fsync.py FILE N.

Compares a vigil-lazyfs mount with a plain directory (tools/lazyfs/README.md).
"""
import os
import sys
import time

path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
block = b"x" * 4096
start = time.monotonic()
for _ in range(n):
    os.write(fd, block)
    os.fdatasync(fd)
elapsed = time.monotonic() - start
os.close(fd)
print(f"{path}: {n} x (4 KiB write + fdatasync) in {elapsed:.2f} s"
      f" = {n / elapsed:.0f} pairs/s")
