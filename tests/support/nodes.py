"""Several Liasse nodes behind HAProxy, as a firm with two servers runs them (issue 22, item
3): each node a `liasse serve` of its own (its own port, its own process tree, its own
settings file), all on one database, one session secret and one storage, and an HAProxy on
a free loopback port in front (roundrobin, a health check on /sante).

`haproxy_config` is also the example configuration of the README (section "Several
servers"), rendered there with placeholders; tests/unit/test_readme_haproxy.py keeps both
the same.
"""

from __future__ import annotations

import http.client
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from support.server import LiveServer, free_port, start_server
from support.world import write_settings

NODE_HEADER = "X-Liasse-Node"  # set by HAProxy: the server that answered
HEALTH_PATH = "/sante"
STOP_SECONDS = 20
WAIT_TRIES = 600  # × 0.05 s


def haproxy_config(bind: str, servers: Sequence[tuple[str, str]]) -> str:
    """An HAProxy 2.6 configuration: `bind` (address:port, and TLS options in production)
    balanced roundrobin over `servers` (name, address:port), each checked on /sante."""
    lines = [
        "global",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    option forwardfor        # Liasse: [server] trusted_proxies names this balancer",
        "    option redispatch        # a request refused by a dead node goes to another",
        "    retries 3",
        "    timeout connect 5s",
        "    timeout http-request 30s # the request's head; a body streams at its pace",
        "    timeout client 10m       # WebDAV uploads and downloads of large files:",
        "    timeout server 10m       # at most this long without a byte either way",
        "    timeout http-keep-alive 30s",
        "    timeout queue 30s",
        "    timeout check 5s",
        "    # No node up: HAProxy's own 503, in French and with Retry-After as Liasse's own",
        '    http-error status 503 content-type "text/plain; charset=utf-8" string '
        '"Service momentanément indisponible : réessayez dans un instant." '
        "hdr Retry-After 2",
        "",
        "frontend liasse",
        f"    bind {bind}",
        "    default_backend liasse_nodes",
        "",
        "backend liasse_nodes",
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {HEALTH_PATH}",
        "    http-check expect status 200",
        f"    http-response set-header {NODE_HEADER} %[srv_name]",
        "    default-server check inter 1s fall 2 rise 2",
    ]
    lines += [f"    server {name} {address}" for name, address in servers]
    return "\n".join(lines) + "\n"


@dataclass
class Balancer:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)

    def answering_node(self) -> str | None:
        """The node that answered a health check through the balancer (None: no answer)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", HEALTH_PATH)
            response = connection.getresponse()
            response.read()
            return response.getheader(NODE_HEADER) if response.status == 200 else None
        except OSError:
            return None
        finally:
            connection.close()

    def wait_until_serving(self, names: set[str]) -> None:
        """Return once every node of `names` has answered through the balancer."""
        seen: set[str] = set()
        for _ in range(WAIT_TRIES):
            if self.process.poll() is not None:
                break
            node = self.answering_node()
            if node:
                seen.add(node)
            if names <= seen:
                return
            time.sleep(0.05)
        raise RuntimeError(f"HAProxy never served through {sorted(names - seen)}:\n"
                           + self.log.read_text(errors="replace"))


def start_balancer(folder: Path, servers: dict[str, int]) -> Balancer:
    """HAProxy on a free loopback port in front of the nodes (name -> loopback port)."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    port = free_port()
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(f"127.0.0.1:{port}", [
        (name, f"127.0.0.1:{node_port}") for name, node_port in servers.items()]))
    log = folder / "haproxy.log"
    with log.open("wb") as output:  # -db: in the foreground, stopped by SIGTERM
        process = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=output,
                                   stderr=subprocess.STDOUT)
    return Balancer(process, port, log)


@dataclass
class Cluster:
    nodes: dict[str, LiveServer]
    balancer: Balancer
    settings: dict[str, Path]  # each node's settings file
    password: str
    killed: set[str] = field(default_factory=set)

    def __getitem__(self, name: str) -> LiveServer:
        return self.nodes[name]

    @property
    def base_url(self) -> str:
        return self.balancer.base_url

    def kill(self, name: str) -> None:
        """`kill -9` the node: no request finished, nothing flushed."""
        process = self.nodes[name].process
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)
        self.killed.add(name)


def node_sections(database_url: str, storage: dict, secret: str, **sections: dict) -> dict:
    """What every node's settings say: one database, one storage, one session secret, and
    the balancer on loopback as the proxy whose X-Forwarded-For names the client."""
    merged: dict[str, dict] = {
        "database": {"url": database_url},
        "storage": dict(storage),
        "security": {"session_secret": secret},
        "server": {"trusted_proxies": ["127.0.0.1"]},
    }
    for name, keys in sections.items():
        merged.setdefault(name, {}).update(keys)
    return merged


@contextmanager
def cluster(folder: Path, database_url: str, storage: dict, password: str, *,
            names: Sequence[str] = ("a", "b"), **sections: dict) -> Iterator[Cluster]:
    """Nodes `names` on `database_url` and `storage` (the [storage] section: the shared data
    folder, or a bucket), with the extra settings `sections`, behind HAProxy; all of them
    stopped on exit, also on failure."""
    secret = secrets.token_urlsafe(32)
    with ExitStack() as stack:
        nodes: dict[str, LiveServer] = {}
        paths: dict[str, Path] = {}
        for name in names:
            merged = node_sections(database_url, storage, secret, **sections)
            url = merged.pop("database")["url"]
            paths[name] = write_settings(folder / f"node-{name}", url, **merged)
            server = start_server(paths[name], password)
            stack.callback(server.stop)
            nodes[name] = server
        balancer = start_balancer(folder, {name: _port(server)
                                           for name, server in nodes.items()})
        stack.callback(balancer.stop)
        balancer.wait_until_serving(set(names))
        yield Cluster(nodes, balancer, paths, password)


def _port(server: LiveServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])
