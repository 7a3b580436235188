"""Builds vigil_client, generating its gRPC stubs first.

The stubs come from schemas/vigil/v1/event_store.proto (two folders up) and
are never committed: `build_py` runs Debian's python3-grpc-tools
(`grpc_tools.protoc`) into vigil_client/_proto/ before copying the package.
The proto is compiled as `vigil_client/_proto/event_store.proto` so the
generated `_pb2_grpc` module imports its `_pb2` sibling from inside the
package; the proto package (and so the wire names, `/vigil.v1.EventStore/...`)
is unchanged.
"""

import os
import shutil
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "..", "..", "schemas", "vigil", "v1", "event_store.proto")
OUT = os.path.join(HERE, "vigil_client", "_proto")


def generate_stubs() -> None:
    from grpc_tools import protoc  # python3-grpc-tools; only needed to build
    import pkg_resources

    if not os.path.exists(PROTO):
        raise RuntimeError(f"{PROTO} not found: install from the Vigil repository")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, "vigil_client", "_proto")
        os.makedirs(staged)
        shutil.copy(PROTO, os.path.join(staged, "event_store.proto"))
        include = pkg_resources.resource_filename("grpc_tools", "_proto")
        code = protoc.main([
            "grpc_tools.protoc", f"-I{tmp}", f"-I{include}",
            f"--python_out={tmp}", f"--grpc_python_out={tmp}",
            os.path.join(staged, "event_store.proto"),
        ])
        if code != 0:
            raise RuntimeError(f"grpc_tools.protoc failed ({code}) on {PROTO}")
        for name in ("event_store_pb2.py", "event_store_pb2_grpc.py"):
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
