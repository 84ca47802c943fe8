"""N Streamlit replicas of the app behind one nginx with sticky sessions, on this machine.

    python -m deploy.replicas 2                  # balancer on http://127.0.0.1:8500
    python -m deploy.replicas 3 --port 8080 --host 0.0.0.0   # serve the classroom network
    python -m deploy.replicas 2 --print-config   # the nginx.conf it would run, for your own server

Each replica is a plain ``streamlit run app.py`` on a loopback port, with the hosting
settings of ``deploy/streamlit-hosting.toml`` passed as flags (what the container runs)
and ``DL101_PUBLIC=1`` (the public-hosting caps). nginx (open-source, Debian's ``nginx``)
is rendered from ``deploy/nginx.conf.template`` into a private temporary folder
and runs in the foreground. A replica that dies is started again (its users reconnect
to another replica in the meantime and stay there). Ctrl-C, SIGTERM or the end of the
``with cluster(...)`` block stops everything; nothing is left running.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
HOSTING_CONFIG = Path(__file__).resolve().parent / "streamlit-hosting.toml"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx", "/opt/homebrew/bin/nginx")
INSTALL_HINT = (
    "nginx was not found. Install it (Debian/Ubuntu: `sudo apt-get install nginx`; "
    "macOS: `brew install nginx`) or point DL101_NGINX at the binary."
)
#: Settings the launcher always sets itself (never taken from the hosting file).
OWN_FLAGS = {"server.port", "server.address", "server.headless"}


class LaunchError(RuntimeError):
    """A clear, user-facing reason why the replicas or the balancer could not start."""


def find_nginx() -> str:
    """The nginx binary: $DL101_NGINX, then PATH, then the usual sbin folders (not on a user's PATH)."""
    explicit = os.environ.get("DL101_NGINX")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise LaunchError(f"DL101_NGINX={explicit} is not an executable file. {INSTALL_HINT}")
        return explicit
    found = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)
    if not found:
        raise LaunchError(INSTALL_HINT)
    return found


def hosting_flags(path: Path = HOSTING_CONFIG) -> list[str]:
    """``deploy/streamlit-hosting.toml`` as ``streamlit run`` flags (``--server.maxUploadSize 20`` …)."""
    flags: list[str] = []
    for section, options in tomllib.loads(path.read_text()).items():
        if not isinstance(options, dict):
            continue
        for key, value in options.items():
            name = f"{section}.{key}"
            if name in OWN_FLAGS or isinstance(value, dict):
                continue
            if isinstance(value, bool):
                value = str(value).lower()
            elif isinstance(value, list):
                if not value:
                    continue
                value = ",".join(map(str, value))
            flags += [f"--{name}", str(value)]
    return flags


def max_upload_mb(path: Path = HOSTING_CONFIG) -> int:
    return int(tomllib.loads(path.read_text()).get("server", {}).get("maxUploadSize", 200))


def check_port_free(host: str, port: int, what: str) -> None:
    """Fail with a clear message when ``port`` is taken (e.g. the balancer started twice).

    SO_REUSEADDR, as nginx and Streamlit set on their own listeners: without it a port
    whose last run had clients (connections in TIME_WAIT for ~60 s after a stop) looks
    taken although both servers could listen on it. A live listener still makes the bind
    fail (Linux refuses SO_REUSEADDR over a LISTEN socket); the connect probe also catches
    a listener on another address of the port (a wildcard one, where BSD would allow the bind).
    """
    probe = "127.0.0.1" if host in {"0.0.0.0", ""} else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
                c.settimeout(1.0)
                if c.connect_ex((probe, port)) == 0:
                    raise OSError(errno.EADDRINUSE, "a server answers on it")
        except OSError as err:
            raise LaunchError(
                f"port {port} on {host} ({what}) is already in use — is another `python -m deploy.replicas` "
                f"or server running? Stop it, or choose other ports with --port / --replica-port. ({err.strerror})"
            ) from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def render_nginx_conf(
    *, listen: str, replica_ports: list[int], prefix: Path | str, upload_mb: int, user: str = ""
) -> str:
    """The nginx.conf for these replicas: one upstream per replica (the rest as backups) + a balanced one."""
    names = [f"r{i}" for i in range(len(replica_ports))]
    addrs = [f"127.0.0.1:{p}" for p in replica_ports]
    opts = "max_fails=1 fail_timeout=10s"
    blocks = ["    upstream dl101_any {\n        least_conn;\n"]
    blocks[0] += "".join(f"        server {a} {opts};\n" for a in addrs) + "    }"
    for name, own in zip(names, addrs, strict=True):
        lines = [f"        server {own} {opts};"] + [f"        server {a} {opts} backup;" for a in addrs if a != own]
        blocks.append(f"    upstream dl101_{name} {{\n" + "\n".join(lines) + "\n    }")
    cookie_map = "\n".join(f"        {n} dl101_{n};" for n in names)
    # $upstream_addr lists every address tried ("a, b"): the last one answered.
    escaped = [a.replace(".", "\\.") for a in addrs]
    served_map = "\n".join(f'        "~(^|, ){e}$" {n};' for n, e in zip(names, escaped, strict=True))
    text = TEMPLATE.read_text()
    for key, value in {
        "@@PREFIX@@": str(prefix),
        "@@USER@@": user,
        "@@UPSTREAMS@@": "\n".join(blocks),
        "@@COOKIE_MAP@@": cookie_map,
        "@@SERVED_MAP@@": served_map,
        "@@LISTEN@@": listen,
        "@@MAX_BODY_MB@@": str(upload_mb + 1),
        "@@MAX_UPLOAD_MB@@": str(upload_mb),
    }.items():
        text = text.replace(key, value)
    return text


def _wait_healthy(url: str, proc: subprocess.Popen | None, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-1500:] if log and log.exists() else ""
            raise LaunchError(f"{what} exited with code {proc.returncode} while starting.\n{tail}")
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise LaunchError(f"{what} did not answer {url}/_stcore/health within {timeout:.0f} s")
        time.sleep(0.2)


@dataclass
class Replica:
    name: str  # r0, r1, … (the balancer's cookie value)
    port: int
    proc: subprocess.Popen
    log: Path
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """Running replicas + balancer. ``url`` is what students open."""

    url: str
    replicas: list[Replica]
    nginx: subprocess.Popen
    workdir: Path
    conf: Path
    _cmd: list[str] = field(default_factory=list)
    _env: dict[str, str] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pids(self) -> list[int]:
        """Every process of the cluster (replicas and nginx master; workers are its children)."""
        return [r.proc.pid for r in self.replicas] + [self.nginx.pid]

    def replica_pids(self) -> list[int]:
        return [r.proc.pid for r in self.replicas]

    def kill(self, name: str) -> None:
        """SIGKILL one replica (a crash, for tests); ``watch()`` starts it again."""
        replica = next(r for r in self.replicas if r.name == name)
        replica.proc.kill()
        replica.proc.wait(10)

    def restart_dead(self, timeout: float = 120.0) -> list[str]:
        """Start again every replica whose process has exited; returns their names."""
        restarted = []
        with self._lock:
            for r in self.replicas:
                if r.proc.poll() is None or self._stopping.is_set():
                    continue
                print(f"[replicas] {r.name} (port {r.port}) exited with {r.proc.returncode}; starting it again")
                r.proc = _start_replica(self._cmd, r.port, self._env, r.log)
                r.restarts += 1
                restarted.append(r.name)
        for name in restarted:
            r = next(x for x in self.replicas if x.name == name)
            _wait_healthy(r.url, r.proc, timeout, f"replica {name}", r.log)
        return restarted

    def watch(self, interval: float = 2.0) -> None:
        """Block, restarting replicas that die, until ``stop()`` or nginx exits."""
        while not self._stopping.wait(interval):
            if self.nginx.poll() is not None:
                print(f"[replicas] nginx exited with {self.nginx.returncode}; see {self.workdir / 'error.log'}")
                return
            try:
                self.restart_dead()
            except LaunchError as err:
                print(f"[replicas] {err}", file=sys.stderr)

    def stop(self) -> None:
        """Stop nginx and every replica: SIGTERM (nginx: fast shutdown, open websockets closed),
        then SIGKILL to the whole process group after 10 s, so no worker is left behind. Idempotent."""
        if self._stopping.is_set() and self.nginx.poll() is not None:
            return
        self._stopping.set()
        with self._lock:
            _terminate([self.nginx] + [r.proc for r in self.replicas])
        shutil.rmtree(self.workdir, ignore_errors=True)


def _terminate(procs: list[subprocess.Popen | None], timeout: float = 10.0) -> None:
    """SIGTERM each process; after ``timeout`` s SIGKILL its whole group (nginx workers, decode workers)."""
    live = [p for p in procs if p is not None and p.poll() is None]
    for p in live:
        p.terminate()
    deadline = time.monotonic() + timeout
    for p in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.monotonic()))
    for p in live:  # each was started in its own session: its group is its own children
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)


def _start_replica(cmd: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen(
            [*cmd, "--server.port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end it and any child it started
        )  # fmt: skip


def start(
    n: int,
    *,
    port: int | None = 8500,
    host: str = "127.0.0.1",
    replica_ports: list[int] | None = None,
    app: str = "app.py",
    public: bool = True,
    extra_flags: list[str] | None = None,
    timeout: float = 120.0,
) -> Cluster:
    """Start ``n`` replicas and nginx; return when the balancer answers ``/_stcore/health``.

    ``port=None`` picks free ports (tests). Raises ``LaunchError`` with a clear reason
    (no nginx, a port in use, a replica that does not come up); nothing is left running.
    """
    if n < 1:
        raise LaunchError("need at least one replica")
    nginx_bin = find_nginx()
    auto = port is None
    port = free_port(host) if port is None else port
    if replica_ports is None:
        replica_ports = [free_port() for _ in range(n)] if auto else [port + 1 + i for i in range(n)]
    if len(replica_ports) != n:
        raise LaunchError(f"{n} replicas need {n} replica ports, got {len(replica_ports)}")
    check_port_free(host, port, "the balancer")
    for p in replica_ports:
        check_port_free("127.0.0.1", p, "a replica")

    workdir = Path(tempfile.mkdtemp(prefix="dl101-replicas-"))
    env = dict(os.environ)
    if public:
        env["DL101_PUBLIC"] = "1"
    env["STREAMLIT_SERVER_COOKIE_SECRET"] = secrets.token_hex(16)  # one secret for all replicas
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.address", "127.0.0.1",
           "--server.headless", "true", *hosting_flags(),
           *(extra_flags or [])]  # fmt: skip
    replicas: list[Replica] = []
    nginx: subprocess.Popen | None = None
    try:
        for i, p in enumerate(replica_ports):
            log = workdir / f"replica-r{i}.log"
            replicas.append(Replica(f"r{i}", p, _start_replica(cmd, p, env, log), log))
        user = ""
        if os.geteuid() == 0:  # workers would run as nobody and could not write the temp folders
            user = "user root;"
        conf = workdir / "nginx.conf"
        listen = f"{host}:{port}"
        conf.write_text(
            render_nginx_conf(
                listen=listen, replica_ports=replica_ports, prefix=workdir, upload_mb=max_upload_mb(), user=user
            )
        )
        test = subprocess.run(
            [nginx_bin, "-t", "-q", "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)],
            capture_output=True,
            text=True,
        )
        if test.returncode != 0:
            raise LaunchError(f"nginx rejected the rendered config {conf}:\n{test.stderr.strip()}")
        nginx = subprocess.Popen(
            [nginx_bin, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "nginx.stderr", "w"),  # noqa: SIM115 — lives as long as nginx
            start_new_session=True,  # master + workers in one group: nothing outlives stop()
        )
        for r in replicas:
            _wait_healthy(r.url, r.proc, timeout, f"replica {r.name} (port {r.port})", r.log)
        url = f"http://{'127.0.0.1' if host in {'0.0.0.0', ''} else host}:{port}"
        _wait_healthy(url, nginx, 30, "nginx", workdir / "nginx.stderr")
    except BaseException:
        _terminate([nginx] + [r.proc for r in replicas], timeout=2)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    cluster = Cluster(url, replicas, nginx, workdir, conf, cmd, env)
    atexit.register(cluster.stop)  # also on an exception or sys.exit in the caller
    return cluster


@contextlib.contextmanager
def cluster(n: int, **kwargs) -> Iterator[Cluster]:
    """``with cluster(2, port=None) as c: …`` — started replicas + balancer, always stopped."""
    c = start(n, **kwargs)
    try:
        yield c
    finally:
        c.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deploy.replicas", description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of Streamlit replicas (e.g. one per 2 CPU cores)")
    ap.add_argument("--port", type=int, default=8500, help="the balancer's port (default 8500)")
    ap.add_argument("--host", default="127.0.0.1", help="the balancer's address (0.0.0.0: the whole network)")
    ap.add_argument("--replica-port", type=int, default=None, help="first replica port (default: port+1)")
    ap.add_argument("--no-public", action="store_true", help="turn the public-hosting caps off (DL101_PUBLIC)")
    ap.add_argument("--print-config", action="store_true", help="print the nginx.conf and exit")
    args = ap.parse_args(argv)
    first = args.replica_port or args.port + 1
    ports = [first + i for i in range(args.n)]
    if args.print_config:
        print(render_nginx_conf(listen=f"{args.host}:{args.port}", replica_ports=ports,
                                prefix="/var/lib/dl101-nginx", upload_mb=max_upload_mb()))  # fmt: skip
        return 0
    try:
        c = start(args.n, port=args.port, host=args.host, replica_ports=ports, public=not args.no_public)
    except LaunchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    def _stop(signum, _frame):
        print(f"\n[replicas] {signal.Signals(signum).name}: stopping")
        c._stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"[replicas] {args.n} replicas on ports {ports}; students open {c.url}  (Ctrl-C stops all)")
    try:
        c.watch()
    finally:
        c.stop()
        print("[replicas] stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
