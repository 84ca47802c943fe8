"""Replicas behind nginx (``deploy/replicas.py``, ``deploy/nginx.conf.template``), on loopback.

Starts 2 real ``streamlit run`` replicas and Debian's nginx, then drives sessions with the
protocol client of the load test (``bench/load_client.py``): a session stays on one
replica across many reruns (its HTTP requests too: uploads and /media), an upload works
through the balancer, an over-limit upload gets a clear answer, and killing one replica
leaves the other replica's sessions untouched while its own users reconnect to a fresh
session on the survivor. The replicas serve a tiny app (no torch: quick, and independent
of the labs' pages, which the load benchmark covers). Skips when nginx is not installed.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import psutil
import pytest

from bench.load_client import Student, run
from deploy import replicas
from deploy.replicas import LaunchError

ROOT = Path(__file__).resolve().parent.parent

try:
    NGINX = replicas.find_nginx()
except LaunchError:
    NGINX = None
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")

TINY_APP = """
import io, os, wave
import streamlit as st

st.session_state.setdefault("runs", 0)
st.session_state.runs += 1
st.markdown(f"pid={os.getpid()} runs={st.session_state.runs}")
st.slider("n", 0, 100, 0)
f = st.file_uploader("photo")
if f is not None:
    data = f.getvalue()
    st.markdown(f"got {len(data)} bytes")
    st.image(data)
buf = io.BytesIO()
with wave.open(buf, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(bytes(1600))
st.audio(buf.getvalue(), format="audio/wav")
"""


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(buf, "PNG")
    return buf.getvalue()


def _runs(student: Student) -> int:
    return int(re.search(r"runs=(\d+)", student.texts()).group(1))


def _pid(student: Student) -> int:
    return int(re.search(r"pid=(\d+)", student.texts()).group(1))


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    app = tmp_path_factory.mktemp("app") / "tiny_app.py"
    app.write_text(TINY_APP)
    with replicas.cluster(2, port=None, app=str(app), timeout=90) as c:
        yield c


# --- the rendered config and the launcher's clear failures ------------------------------------
@needs_nginx
def test_rendered_config_passes_nginx_t(tmp_path):
    conf = tmp_path / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(
        replicas.render_nginx_conf(
            listen="127.0.0.1:8500", replica_ports=[8501, 8502, 8503], prefix=tmp_path, upload_mb=20, user=user
        )
    )
    out = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = conf.read_text()
    # one upstream per replica with the others as backups, and the balanced one for new browsers
    assert text.count("upstream dl101_") == 4
    assert "server 127.0.0.1:8501 max_fails=1 fail_timeout=10s backup;" in text
    assert re.search(r"map \$cookie_dl101_replica \$dl101_upstream", text)
    assert "client_max_body_size 21m;" in text  # the 20 MB rendered above + framing
    stream = text[text.index("location = /_stcore/stream") :]
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s", stream).group(1))
    assert read_timeout >= 600, "a websocket idle for 10 minutes must stay up"
    assert "proxy_set_header Upgrade $http_upgrade;" in text


def test_missing_nginx_says_how_to_install(monkeypatch):
    monkeypatch.setenv("DL101_NGINX", "/nonexistent/nginx")
    with pytest.raises(LaunchError, match="apt-get install nginx"):
        replicas.find_nginx()
    monkeypatch.delenv("DL101_NGINX")
    monkeypatch.setattr(replicas.shutil, "which", lambda _name: None)
    monkeypatch.setattr(replicas, "NGINX_CANDIDATES", ("/nonexistent/sbin/nginx",))
    with pytest.raises(LaunchError, match=r"nginx was not found.*apt-get install nginx"):
        replicas.start(1, port=None)


@needs_nginx
def test_balancer_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LaunchError, match=rf"port {port} .*already in use"):
            replicas.start(1, port=port, replica_ports=[replicas.free_port()])


def _time_wait_port() -> int:
    """A loopback port whose server side is in TIME_WAIT, as after a run with clients.

    The listener sets SO_REUSEADDR as nginx and Streamlit's tornado do (a TIME_WAIT socket
    keeps its listener's flag); the server side closes first, so the TIME_WAIT is on its port.
    """
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        server.close()  # the server closes first: its end goes to TIME_WAIT when the client's FIN arrives
        assert client.recv(1) == b""
        client.close()
    return port


def test_a_port_in_time_wait_is_free():
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):  # the situation: a plain bind is refused for ~60 s
        plain.bind(("127.0.0.1", port))
    replicas.check_port_free("127.0.0.1", port, "the balancer")  # no LaunchError
    with socket.socket() as again:  # and a server (SO_REUSEADDR, like nginx) can really listen there
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()


@pytest.mark.parametrize("listen_on", ["127.0.0.1", "0.0.0.0"])
@pytest.mark.parametrize("reuse", [False, True], ids=["plain", "reuseaddr"])
def test_a_listening_port_is_not_free(listen_on, reuse):
    """A live listener is found whatever its flags, also one on the wildcard address."""
    with socket.socket() as taken:
        if reuse:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((listen_on, 0))
        taken.listen()
        port = taken.getsockname()[1]
        for host in {"127.0.0.1", listen_on}:
            with pytest.raises(LaunchError, match=rf"port {port} on {re.escape(host)} \(a replica\) is already in use"):
                replicas.check_port_free(host, port, "a replica")


def test_main_print_config_renders_the_ports_it_is_given(tmp_path):
    cmd = [sys.executable, "-m", "deploy.replicas", "3", "--port", "9100", "--replica-port", "9200",
           "--host", "0.0.0.0", "--print-config"]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert not re.search(r"@@[A-Z_]+@@", text), "every field is filled"
    assert re.search(r"^\s*listen 0\.0\.0\.0:9100;", text, re.M)
    for port in (9200, 9201, 9202):
        assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" in text
    assert "9203" not in text and text.count("upstream dl101_") == 4
    assert "pid /var/lib/dl101-nginx/nginx.pid;" in text  # the prefix for a server's own nginx
    assert "client_max_body_size 65m;" in text
    if NGINX is not None:  # nginx accepts it (with the prefix moved to a folder of ours)
        conf = tmp_path / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(user + text.replace("/var/lib/dl101-nginx", str(tmp_path)))
        t = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
                           capture_output=True, text=True)  # fmt: skip
        assert t.returncode == 0, t.stderr
    # the default: replicas on the ports after the balancer's
    default = subprocess.run([sys.executable, "-m", "deploy.replicas", "2", "--print-config"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "listen 127.0.0.1:8500;" in default.stdout and "server 127.0.0.1:8502 max_fails" in default.stdout


def test_main_reports_a_launch_error_and_exits_1(capsys):
    assert replicas.main(["0"]) == 1
    assert "error: need at least one replica" in capsys.readouterr().err


@needs_nginx
def test_main_reports_a_taken_port_and_starts_nothing(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = set(psutil.Process().children(recursive=True))
        assert replicas.main(["1", "--port", str(port), "--replica-port", str(replicas.free_port())]) == 1
    err = capsys.readouterr().err
    assert f"error: port {port} on 127.0.0.1 (the balancer) is already in use" in err
    assert set(psutil.Process().children(recursive=True)) <= before


def test_hosting_settings_are_public_safe_and_match_the_project_theme():
    hosting = tomllib.loads((ROOT / "deploy" / "streamlit-hosting.toml").read_text())
    project = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert hosting["server"]["enableXsrfProtection"] is True
    assert hosting["server"]["fileWatcherType"] == "none"
    assert hosting["client"]["showErrorDetails"] == "none"
    assert hosting["server"]["maxUploadSize"] <= project["server"]["maxUploadSize"]
    assert hosting["theme"] == project["theme"], "deploy/streamlit-hosting.toml repeats the project's theme"
    flags = replicas.hosting_flags()
    assert flags[flags.index("--server.maxUploadSize") + 1] == str(hosting["server"]["maxUploadSize"])
    # no full garbage collection after every run (lab.memory's thread collects instead), locally and hosted
    assert hosting["runner"]["postScriptGC"] is False and project["runner"]["postScriptGC"] is False
    assert flags[flags.index("--runner.postScriptGC") + 1] == "false"


def test_every_loader_rechecks_its_own_size_on_the_server():
    """A widget's ``max_upload_size`` is checked by the browser only; the server checks ``server.maxUploadSize``
    (64 MB, for GoogLeNet weights, locally and in hosting). So each loader refuses a file over its own cap
    itself, from the byte count, before any parsing (all-zero bytes would otherwise get a format message)."""
    from lab import audio, data2d, images, weights

    cases = [
        (images.MAX_BYTES, lambda d: images.load_image(d, "big.png", isolate=False), images.ImageInputError, "limit"),
        (audio.MAX_BYTES, lambda d: audio.load_wav(d, "big.wav"), audio.AudioInputError, "WAV under"),
        (data2d.MAX_CSV_BYTES, lambda d: data2d.parse_csv(d, "big.csv"), data2d.DataInputError, "limited to"),
        (weights.MAX_BYTES, lambda d: weights.read_state_dict(d), weights.WeightsError, "larger than"),
    ]
    project = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    hosting = tomllib.loads((ROOT / "deploy" / "streamlit-hosting.toml").read_text())["server"]["maxUploadSize"]
    for cap, load, error, words in cases:
        assert cap <= min(project, hosting) * 2**20  # no loader accepts more than the server lets through
        with pytest.raises(error, match=words):
            load(bytes(cap + 1))


def _running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``procs`` that still run (a zombie waiting for its reaper runs nothing, holds no port)."""
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            continue
    return alive


@needs_nginx
def test_leaving_the_cluster_leaves_no_process_and_frees_every_port(tmp_path):
    """Every replica (and anything it started), nginx's master and workers: gone; every port bindable again,
    although clients were connected when it stopped (their connections are in TIME_WAIT)."""
    import http.client

    app = tmp_path / "tiny_app.py"
    app.write_text(TINY_APP)
    clients = []
    with replicas.cluster(2, port=None, app=str(app), timeout=90) as c:
        ports = [int(c.url.rsplit(":", 1)[1])] + [r.port for r in c.replicas]
        master = psutil.Process(c.nginx.pid)
        workers = master.children(recursive=True)
        assert workers and all("nginx" in w.name() for w in workers), "nginx runs its worker processes"
        tree = [master, *workers]
        for pid in c.replica_pids():
            replica = psutil.Process(pid)
            tree += [replica, *replica.children(recursive=True)]
        assert len(_running(tree)) == len(tree) >= 2 + 1 + 1
        for port in ports:  # keep-alive clients on the balancer and on each replica while it stops
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/_stcore/health")
            assert conn.getresponse().read() == b"ok"
            clients.append(conn)
    deadline = time.monotonic() + 15
    while _running(tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(tree) == [], f"left running: {[(p.pid, p.name()) for p in _running(tree)]}"
    assert not c.workdir.exists(), "the rendered config and logs are removed"
    for conn in clients:
        conn.close()
    for port in ports:  # the launcher's own check, and a server's bind, as a restart right away does
        replicas.check_port_free("127.0.0.1", port, "a restart")
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
    c.stop()  # idempotent: a second stop (atexit) does nothing


# --- through the balancer ----------------------------------------------------------------------
def test_sessions_stay_on_one_replica_across_many_reruns(two_replicas):
    async def go():
        students = [Student(two_replicas.url) for _ in range(4)]
        try:
            for s in students:
                first = await s.open("")
                assert not first.error, first.error
            homes = {s.replica for s in students}
            assert homes == {"r0", "r1"}, f"new browsers are spread over both replicas, got {homes}"
            for s in students:
                home, pid = s.replica, _pid(s)
                for k in range(1, 9):
                    it = await s.set("n", k)
                    assert not it.error, it.error
                    assert it.media >= 1  # the audio clip, fetched over HTTP through the balancer
                    assert s.http.cookies.get("dl101_replica") == home
                    assert _pid(s) == pid
                assert _runs(s) == 9, "all nine runs happened in one session"
        finally:
            for s in students:
                await s.close()

    run(go())


def test_upload_then_rerun_through_the_balancer(two_replicas):
    async def go():
        s = Student(two_replicas.url)
        try:
            await s.open("")
            photo = _png()
            up = await s.upload("photo", "red.png", photo, "image/png")
            assert not up.error, up.error
            assert f"got {len(photo)} bytes" in s.texts()
            assert up.media == 2  # the uploaded image and the audio, both served by the same replica
            again = await s.set("n", 42)
            assert not again.error and f"got {len(photo)} bytes" in s.texts()
            # over the balancer's limit: a clear 413 answer, and the session carries on
            url = s.base_url + f"/_stcore/upload_file/{s.session_id}/x"
            headers = {"X-Xsrftoken": s.http.cookies.get("_streamlit_xsrf", "")}
            big = s.http.put(url, files={"big.jpg": ("big.jpg", bytes(66 * 2**20))}, headers=headers, timeout=60)
            assert big.status_code == 413
            assert "larger than the 64 MB upload limit" in big.text
            after = await s.set("n", 43)
            assert not after.error
        finally:
            await s.close()

    run(go())


def test_killing_one_replica_leaves_the_other_sessions_alone(two_replicas):
    async def go():
        students = [Student(two_replicas.url) for _ in range(2)]
        try:
            for s in students:
                await s.open("")
            by_replica = {s.replica: s for s in students}
            assert set(by_replica) == {"r0", "r1"}
            survivor, victim = by_replica["r0"], by_replica["r1"]
            await survivor.set("n", 5)
            survivor_session, survivor_runs = survivor.session_id, _runs(survivor)
            victim_session = victim.session_id

            two_replicas.kill("r1")
            t0 = time.monotonic()
            while not victim.closed_reason and time.monotonic() - t0 < 15:
                await asyncio.sleep(0.1)
            assert victim.closed_reason, "the killed replica's websocket is closed at once, not left hanging"

            for k in range(3):  # the other replica's session is untouched
                it = await survivor.set("n", 10 + k)
                assert not it.error, it.error
            assert survivor.session_id == survivor_session
            assert _runs(survivor) == survivor_runs + 3

            back = await victim.reconnect()  # what the frontend does after "Connection lost"
            assert not back.error, back.error
            assert back.seconds < 30
            assert victim.replica == "r0" and victim.http.cookies.get("dl101_replica") == "r0"
            assert victim.session_id != victim_session and _runs(victim) == 1, "a fresh session"

            assert two_replicas.restart_dead() == ["r1"]
            it = await victim.set("n", 7)  # stays where it reconnected: no second reset
            assert not it.error and victim.replica == "r0" and _runs(victim) == 2
        finally:
            for s in students:
                await s.close()

    run(go())


def test_browser_over_limit_upload_gets_a_clear_message(two_replicas, browser, tmp_path):
    """In Chromium through the balancer: a file over the limit is refused on the page, the app keeps working."""
    from tests.browser import FINISHED, wait_for_script

    big = tmp_path / "huge-photo.jpg"
    big.write_bytes(bytes(66 * 2**20))  # over the hosting cap (64 MB, the GoogLeNet weights)
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(two_replicas.url, wait_until="domcontentloaded")
        wait_for_script(page)
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(big))
        page.get_by_text("File must be 64.0MB or smaller.").wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0
        # the connection is intact: a rerun still runs (press R, as a user can)
        runs_before = int(re.search(r"runs=(\d+)", page.inner_text("body")).group(1))
        page.keyboard.press("r")
        page.wait_for_function(f"document.body.innerText.includes('runs={runs_before + 1}')", timeout=30_000)
        page.wait_for_selector(FINISHED)
        assert "Connection error" not in page.inner_text("body")
    finally:
        context.close()


def test_browser_reconnects_to_a_fresh_session_when_its_replica_dies(two_replicas, browser):
    """Chromium pinned to a replica that is killed reconnects by itself to the survivor (no hang).

    Streamlit's frontend reconnects with its old session id; the survivor does not know it
    and starts a fresh session. The frontend does not rerun an idle page after a reconnect,
    so the student's next action (here: pressing R) runs there: widget values come from the
    browser, everything else of the old session (session_state, uploads) is gone.
    """
    from tests.browser import wait_for_script

    contexts, pages = [], {}
    try:
        deadline = time.monotonic() + 60  # a replica restarted by an earlier test may sit out nginx's fail_timeout
        while time.monotonic() < deadline:  # new browsers alternate between the replicas (least connections)
            context = browser.new_context(viewport={"width": 1000, "height": 800})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(two_replicas.url, wait_until="domcontentloaded")
            wait_for_script(page)
            replica = next(c["value"] for c in context.cookies() if c["name"] == "dl101_replica")
            contexts.append(context)
            if replica in pages:
                context.close()
                contexts.pop()
                time.sleep(1.0)
            pages.setdefault(replica, page)
            if len(pages) == 2:
                break
        assert set(pages) == {"r0", "r1"}
        survivor_pid = re.search(r"pid=(\d+)", pages["r0"].inner_text("body")).group(1)
        victim = pages["r1"]
        victim.keyboard.press("r")
        victim.wait_for_function("document.body.innerText.includes('runs=2')")  # its session is live

        two_replicas.kill("r1")
        t0 = time.monotonic()
        fresh = f"pid={survivor_pid} runs=1"
        while fresh not in victim.inner_text("body"):
            assert time.monotonic() - t0 < 45, "the killed replica's browser never got a fresh session"
            victim.keyboard.press("r")  # the student's next action
            victim.wait_for_timeout(1500)
        cookie = next(c["value"] for c in victim.context.cookies() if c["name"] == "dl101_replica")
        assert cookie == "r0"
        assert victim.locator('[data-testid="stException"]').count() == 0
        # the survivor's own browser never noticed: same session, no rerun
        assert f"pid={survivor_pid} runs=1" in pages["r0"].inner_text("body")
    finally:
        for context in contexts:
            context.close()
        two_replicas.restart_dead()


def test_load_bench_kill_after_reports_untouched_survivors_and_clean_reconnects(two_replicas):
    """``bench_load --kill-after``: one replica is SIGKILLed mid-class; the report counts the other
    replica's students (no error, same session) and the killed replica's (each reconnects to a fresh session)."""
    import urllib.request

    from bench import bench_load

    c = two_replicas
    c.restart_dead()  # an earlier test may have killed r1
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def answers(cookie: str) -> str:
        req = urllib.request.Request(f"{c.url}/_stcore/health", headers={"Cookie": cookie} if cookie else {})
        return opener.open(req, timeout=10).headers.get("X-DL101-Replica")

    # A restarted replica sits out nginx's fail_timeout in each upstream group that saw it fail (its own
    # group too, where its browsers then land on the backup): wait until both groups send browsers to r1.
    deadline = time.monotonic() + 60
    while not (answers("dl101_replica=r1") == "r1" and "r1" in {answers(""), answers("")}):
        assert time.monotonic() < deadline, "new browsers never reach r1"
        time.sleep(0.5)
    steps = tuple(bench_load.Step("set", "n") for _ in range(4))
    victim = next(r for r in c.replicas if r.name == "r1")
    plan = bench_load.KillPlan("r1", 1.5, c.kill, victim.proc.pid)
    try:
        result = run(
            bench_load.run_class(
                c.url, 4, c.replica_pids, labs=("",), scenarios={"": steps}, think_s=(0.2, 0.4), ramp_s=0.5,
                budget_s=60, timeout=30, reap=False, photo_size=(64, 48), chaos=plan,
            )
        )  # fmt: skip
    finally:
        c.restart_dead()
    kill = result["kill"]
    assert kill["happened"] and 1.0 <= kill["at_s"] < 10
    assert kill["students_on_killed_replica"] >= 1 and kill["students_elsewhere"] >= 1, (
        kill,
        result["students_per_replica"],
        result["error_samples"],
    )
    assert kill["survivor_errors"] == 0, kill["survivor_error_samples"]
    assert kill["survivors_untouched"] and kill["survivors_kept_their_session"] == kill["students_elsewhere"]
    killed = kill["killed_sessions"]
    assert killed["reconnected"] == kill["students_on_killed_replica"] and killed["reconnect_failed_or_hung"] == 0
    assert killed["fresh_sessions"] == killed["reconnected"] and killed["now_on"] == ["r0"]
    assert killed["errors_after_reconnect"] == 0, killed["error_samples_after_reconnect"]
    assert killed["reconnect_s"]["max_s"] < 30
    # the only errors of the run are the steps the kill interrupted
    assert result["errors"] == killed["interrupted_steps"]
    assert result["by_action"]["rerun after kill"]["n"] == 4
