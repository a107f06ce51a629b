"""The drive with its bodies in the local folder against the same drive on S3 (SeaweedFS on
loopback), side by side in one run: PUT and GET of 64 KiB bodies (many) and of 256 MiB
bodies (a few), over one kept-alive connection each; prints the times and the ratios.

Two `liasse demo` servers on 127.0.0.1 (free ports), one `weed mini` (free ports), all in a
temporary folder removed at the end and stopped also on error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.seaweed import SeaweedServer  # noqa: E402
from support.server import LiveServer, start_server  # noqa: E402

PASSWORD = "bench-mot-de-passe-2026"
USER = "martin"
FOLDER = ("Boulangerie Martin", "Achats")
LIASSE = [str(Path(sys.executable).parent / "liasse")]


def demo(data: Path) -> None:
    """Create the demo world in `data` (a first `liasse demo`, stopped once it serves)."""
    server = start_server_demo(data)
    server.stop()


def start_server_demo(data: Path) -> LiveServer:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    process = subprocess.Popen([*LIASSE, "demo", "--data", str(data), "--port", "0",
                                "--password", PASSWORD], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    for line in process.stdout:
        if "Application web" in line:
            return LiveServer(process, line.split(":", 1)[1].strip().rstrip("/"), [],
                              PASSWORD)
    process.wait()
    raise RuntimeError("liasse demo did not start")


class Client:
    def __init__(self, server: LiveServer) -> None:
        host, port = server.base_url.split("//")[1].split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=600)
        self.auth = {"Authorization": "Basic " + base64.b64encode(
            f"{USER}:{PASSWORD}".encode()).decode()}
        self.prefix = "/dav/" + "/".join(quote(s) for s in FOLDER) + "/"

    def put(self, name: str, body, length: int) -> None:
        self.connection.request("PUT", self.prefix + name, body=body, headers={
            **self.auth, "Content-Length": str(length)})
        answer = self.connection.getresponse()
        answer.read()
        assert answer.status in (201, 204), answer.status

    def get(self, name: str) -> int:
        self.connection.request("GET", self.prefix + name, headers=self.auth)
        answer = self.connection.getresponse()
        size = 0
        while chunk := answer.read(1024 * 1024):
            size += len(chunk)
        assert answer.status == 200, answer.status
        return size


def measure(server: LiveServer, work: Path, small: int, large: int) -> dict[str, float]:
    client = Client(server)
    times = {}
    bodies = [os.urandom(64 * 1024) for _ in range(small)]
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        client.put(f"small-{i}.bin", body, len(body))
    times["PUT 64 KiB"] = (time.perf_counter() - start) / small
    start = time.perf_counter()
    for i in range(small):
        client.get(f"small-{i}.bin")
    times["GET 64 KiB"] = (time.perf_counter() - start) / small
    big = work / "big.bin"
    put_total = get_total = 0.0
    for i in range(large):
        with big.open("wb") as out:  # a distinct body each time
            for _ in range(256):
                out.write(os.urandom(1024 * 1024))
        start = time.perf_counter()
        with big.open("rb") as body:
            client.put(f"large-{i}.bin", body, 256 * 1024 * 1024)
        put_total += time.perf_counter() - start
        start = time.perf_counter()
        assert client.get(f"large-{i}.bin") == 256 * 1024 * 1024
        get_total += time.perf_counter() - start
    times["PUT 256 MiB"] = put_total / large
    times["GET 256 MiB"] = get_total / large
    client.connection.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=300, help="64 KiB bodies (300)")
    parser.add_argument("--large", type=int, default=3, help="256 MiB bodies (3)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="liasse-storage-bench-"))
    seaweed = SeaweedServer(work / "seaweed")
    servers: list[LiveServer] = []
    try:
        seaweed.start()
        os.environ.update(seaweed.environment())
        local, s3 = work / "local", work / "s3"
        demo(local)
        demo(s3)
        bucket = seaweed.new_bucket()
        settings = s3 / "liasse.toml"
        text = settings.read_text(encoding="utf-8")
        keys = f's3_endpoint = "{seaweed.endpoint}"\ns3_bucket = "{bucket}"\n'
        text = text.replace("[storage]\n", f"[storage]\n{keys}") if "[storage]\n" in text \
            else text + f"\n[storage]\n{keys}"
        settings.write_text(text, encoding="utf-8")
        subprocess.run([*LIASSE, "--data", str(s3), "storage", "migrate"], check=True,
                       stdout=subprocess.DEVNULL)
        settings.write_text(text.replace("[storage]\n", '[storage]\nbackend = "s3"\n'),
                            encoding="utf-8")
        results = {}
        for name, data in (("local", local), ("s3", s3)):
            server = start_server_demo(data) if name == "local" else \
                start_server(settings, PASSWORD)
            servers.append(server)
            results[name] = measure(server, work, args.small, args.large)
            server.stop()
        print(f"{'':14}{'local':>12}{'S3':>12}{'S3/local':>10}")
        for what in results["local"]:
            a, b = results["local"][what], results["s3"][what]
            unit = 1000 if "KiB" in what else 1
            label = "ms" if unit == 1000 else "s"
            print(f"{what:14}{a * unit:>10.2f}{label:>2}{b * unit:>10.2f}{label:>2}"
                  f"{b / a:>9.2f}x")
    finally:
        for server in servers:
            server.stop()
        seaweed.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
