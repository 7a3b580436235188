"""Builds vigil_client, generating its gRPC stubs first.

The stubs come from schemas/vigil/v1/event_store.proto (two folders up) and
are never committed: `build_py` runs Debian's `protoc` (protobuf-compiler
3.21, the release of python3-protobuf 4.21) with `grpc_python_plugin`
(protobuf-compiler-grpc 1.51, the release of python3-grpcio) into
vigil_client/_proto/ before copying the package. Not python3-grpc-tools:
its bundled protoc 3.5.1 emits descriptor code that protobuf 4.21
deprecates (DeprecationWarning "Create unlinked descriptors is going to go
away" under the pure-Python backend). The proto is compiled as
`vigil_client/_proto/event_store.proto` so the `_pb2_grpc` module imports
its `_pb2` sibling from inside the package; the proto package (and so the
wire names, `/vigil.v1.EventStore/...`) is unchanged.
"""

import os
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "..", "schemas", "vigil", "v1", "event_store.proto")
OUT = os.path.join(HERE, "vigil_client", "_proto")
GENERATED = ("event_store_pb2.py", "event_store_pb2.pyi", "event_store_pb2_grpc.py")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: apt-get install {package} (tools/install-deps)")
    return path


def generate_stubs() -> None:
    if not os.path.exists(PROTO):
        raise RuntimeError(f"{PROTO} not found: install from the Vigil repository")
    protoc = _tool("protoc", "protobuf-compiler")
    plugin = _tool("grpc_python_plugin", "protobuf-compiler-grpc")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, "vigil_client", "_proto")
        os.makedirs(staged)
        shutil.copy(PROTO, os.path.join(staged, "event_store.proto"))
        subprocess.run([protoc, f"-I{tmp}", "-I/usr/include", f"--python_out={tmp}",
                        f"--pyi_out={tmp}", f"--grpc_out={tmp}",
                        f"--plugin=protoc-gen-grpc={plugin}",
                        os.path.join(staged, "event_store.proto")], check=True)
        for name in GENERATED:
            shutil.copy(os.path.join(staged, name), os.path.join(OUT, name))
    with open(os.path.join(OUT, "__init__.py"), "w") as init:
        init.write('"""Generated from schemas/vigil/v1/event_store.proto; private."""\n')


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        generate_stubs()
        # Listed here, not in pyproject.toml: the folder exists only now.
        self.packages = [*self.packages, "vigil_client._proto"]
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs})
