"""How much disk ``pip install -r requirements-cpu.txt`` takes: measured when PyTorch's CPU index answers,
otherwise estimated from the wheels this machine can see. Prints one JSON document.

    python scripts/cpu_install_size.py              # measure if https://download.pytorch.org/whl/cpu answers
    python scripts/cpu_install_size.py --estimate   # never installs: the estimate below
    python scripts/cpu_install_size.py --wheels DIR # also look for CPU torch wheels in DIR

**Measured** (``"measured": true``): a fresh venv in a temporary folder, ``pip install -r
requirements-cpu.txt`` (the CPU index, the lock's versions), a check that torch is the CPU build,
then the size of the venv and its largest packages (``du``-style: bytes of every file). The
venv is removed afterwards.

**Estimated** (``"measured": false``), when the index cannot be reached (or with ``--estimate``):
pip resolves the file without torch/torchvision and without the CPU index (a dry run, nothing
installed), and each resolved package is sized by, in this order: its files as installed in
*this* interpreter's environment at the same version (the RECORD, ``.pyc`` files included);
or the unpacked contents of its wheel when pip found it in a local folder; or the unpacked
contents of the wheel ``pip download --no-deps`` fetches. torch and torchvision are the
unpacked contents of the best CPU wheels found in pip's local folders (``find-links``,
``file://`` indexes, ``--wheels``): the pinned ``+cpu`` version if there, else the nearest
one, and the output names the version used; plus the ``.pyc`` files of the build installed
here (pip writes them at install time; the CUDA build's Python files are the CPU build's).
A bare venv (pip itself) is measured and added.

Every ``*_mb`` / ``mb`` value is in MiB (2**20 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import venv
import zipfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-cpu.txt"
LOCK = ROOT / "requirements.lock"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = ("torch", "torchvision")
MB = 2**20


def pinned(name: str, path: Path = REQUIREMENTS) -> str:
    """The version ``name==…`` pins in a requirements file ('' if none)."""
    m = re.search(rf"^{re.escape(name)}==([^\s#;]+)", path.read_text(), re.M)
    return m.group(1) if m else ""


def index_answers(url: str = CPU_INDEX, package: str = "torch", timeout: float = 10.0) -> bool:
    """Whether the CPU index lists the pinned torch (DNS failure, a proxy refusal, a timeout: no)."""
    try:
        with urllib.request.urlopen(f"{url}/{package}/", timeout=timeout) as r:
            page = r.read().decode(errors="replace")
    except OSError:
        return False
    return f"{package}-{pinned(package)}+cpu" in page.replace("%2B", "+")


def tree_bytes(path: Path) -> int:
    """Bytes of every regular file under ``path`` (what ``du -sb`` adds up, links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def unpacked_bytes(wheel: Path, skip: tuple[str, ...] = ()) -> int:
    """Bytes a wheel unpacks to (its members' uncompressed sizes), less members under ``skip`` prefixes."""
    with zipfile.ZipFile(wheel) as z:
        return sum(i.file_size for i in z.infolist() if not i.filename.startswith(skip))


def image_drops(wheel: Path, name: str) -> int:
    """Bytes of what the Dockerfile deletes from this package: ``test/``, ``include/`` and the C++ test
    binaries in ``bin/`` (all but ``torch_shm_manager``)."""
    with zipfile.ZipFile(wheel) as z:
        return sum(
            i.file_size
            for i in z.infolist()
            if i.filename.startswith((f"{name}/test/", f"{name}/include/"))
            or (i.filename.startswith(f"{name}/bin/") and not i.filename.endswith("/torch_shm_manager"))
        )


def installed_bytes(name: str, version: str) -> int | None:
    """Bytes of ``name``'s files as installed here, if installed at ``version`` (RECORD: files + .pyc)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    if dist.version != version or not dist.files:
        return None
    total = 0
    for f in dist.files:
        p = Path(dist.locate_file(f))
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    cache = {Path(dist.locate_file(f)).parent / "__pycache__" for f in dist.files if str(f).endswith(".py")}
    listed = {Path(dist.locate_file(f)) for f in dist.files}
    for folder in cache:  # .pyc files written after install are not always in RECORD
        if folder.is_dir():
            total += sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p not in listed)
    return total


def pycache_bytes(name: str) -> int:
    """Bytes of the ``.pyc`` files of ``name`` as installed here, any version or build (0 if not installed):
    what pip adds to an unpacked wheel when it installs it (the CUDA and CPU builds share their Python files)."""
    if not _has(name):
        return 0
    top = Path(metadata.distribution(name).locate_file(name.replace("-", "_")))
    if not top.is_dir():
        return 0
    return sum(tree_bytes(Path(root)) for root, _dirs, _files in os.walk(top) if Path(root).name == "__pycache__")


def pip_local_dirs(extra: list[str]) -> list[Path]:
    """Folders where pip finds wheels without a network: find-links, the files of ``file://`` indexes, ``extra``."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    values = " ".join(re.findall(r"(?:find-links|index-url)='([^']*)'", out))
    values += " " + os.environ.get("PIP_FIND_LINKS", "") + " " + " ".join(extra)
    dirs: list[Path] = []
    for v in values.split():
        path = Path(unquote(urlsplit(v).path)) if v.startswith("file:") else Path(v)
        if v.startswith("file:") and path.name == "simple":
            path = path.parent  # a PEP 503 folder: its wheels sit next to simple/ (…/files/)
        if path.is_dir() and path not in dirs:
            dirs.append(path)
    return dirs


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


def best_wheel(name: str, version: str, dirs: list[Path]) -> tuple[Path | None, str]:
    """The wheel of ``name`` nearest the pinned ``version``, preferring a ``+cpu`` build, and how it was chosen."""
    pattern = re.compile(rf"^{re.escape(name)}-([^-]+)-.*\.whl$")
    found: list[tuple[Path, str]] = []
    for d in dirs:
        for p in [*d.glob(f"{name}-*.whl"), *d.glob(f"*/{name}-*.whl")]:
            m = pattern.match(p.name)
            if m:
                found.append((p, unquote(m.group(1))))
    if not found:
        return None, "no wheel found"

    def rank(item: tuple[Path, str]) -> tuple:
        v = item[1]
        distance = tuple(abs(a - b) for a, b in zip(_version_key(v), _version_key(version), strict=False))
        return (v.endswith("+cpu") is False, distance)

    path, v = min(found, key=rank)
    kind = "the CPU build" if v.endswith("+cpu") else "NOT a CPU build (the only one visible)"
    exact = "the pinned version" if v.split("+")[0] == version else f"not the pinned {version}"
    return path, f"{v}: {kind}, {exact}"


def estimate(extra_dirs: list[str]) -> dict:
    """The estimate (no install): see the module's docstring."""
    work = Path(tempfile.mkdtemp(prefix="dl101-size-"))
    try:
        # requirements-cpu.txt without torch, torchvision and the CPU index (which does not answer)
        lines = [
            line
            for line in REQUIREMENTS.read_text().splitlines()
            if not line.startswith(("--extra-index-url", "-c ", *(f"{t}==" for t in TORCH_PACKAGES)))
        ]
        reqs = work / "requirements.txt"
        reqs.write_text("\n".join([f"-c {LOCK}", *lines]) + "\n")
        report = work / "report.json"
        resolve = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", str(report), "-r", str(reqs)],
            capture_output=True, text=True,
        )  # fmt: skip
        if resolve.returncode != 0:
            raise SystemExit(f"pip could not resolve {REQUIREMENTS.name} without torch:\n{resolve.stderr[-3000:]}")
        packages: dict[str, dict] = {}
        for item in json.loads(report.read_text())["install"]:
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            url = item["download_info"]["url"]
            size = installed_bytes(name, version)
            source = "installed here"
            if size is None and url.startswith("file:"):
                size, source = unpacked_bytes(Path(unquote(urlsplit(url).path))), "local wheel, unpacked"
            if size is None:
                dl = work / "dl"
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dl), f"{name}=={version}"],
                    check=True,
                )  # fmt: skip
                wheel = next(dl.glob(f"{name.replace('-', '_')}-*.whl"), None) or next(dl.glob("*.whl"))
                size, source = unpacked_bytes(wheel), "downloaded wheel, unpacked"
                wheel.unlink()
            packages[name] = {"version": version, "mb": round(size / MB, 1), "from": source}
        dirs = pip_local_dirs(extra_dirs)
        torch_parts: dict[str, dict] = {}
        for name in TORCH_PACKAGES:
            wheel, why = best_wheel(name, pinned(name), dirs)
            if wheel is None:
                installed = installed_bytes(name, metadata.version(name)) if _has(name) else None
                torch_parts[name] = {"wheel": None, "why": why, "mb": round((installed or 0) / MB, 1),
                                     "note": "sized from the installed build here" if installed else "not sized"}  # fmt: skip
                continue
            dropped = image_drops(wheel, name)
            pyc = pycache_bytes(name)
            torch_parts[name] = {
                "wheel": wheel.name,
                "why": why,
                "mb": round((unpacked_bytes(wheel) + pyc) / MB, 1),
                "pyc_mb": round(pyc / MB, 1),  # the .pyc files pip writes, as measured on this package here
                "mb_the_image_drops": round(dropped / MB, 1),  # what the Dockerfile deletes after installing
            }
        bare = work / "bare-venv"
        venv.EnvBuilder(with_pip=True).create(bare)
        bare_mb = tree_bytes(bare) / MB
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    rest = sum(p["mb"] for p in packages.values())
    torch_mb = sum(p["mb"] for p in torch_parts.values())
    return {
        "measured": False,
        "why": f"{CPU_INDEX} did not answer (or --estimate): sized from the wheels visible here",
        "estimate_mb": round(rest + torch_mb + bare_mb),
        "torch_and_torchvision_mb": round(torch_mb),
        "everything_else_mb": round(rest),
        "bare_venv_mb": round(bare_mb),
        "torch_wheels": torch_parts,
        "largest": dict(sorted(((k, v["mb"]) for k, v in packages.items()), key=lambda kv: -kv[1])[:8]),
        "packages": packages,
        "caveats": [
            "torch/torchvision: unpacked wheel + the .pyc files of the build installed here (pyc_mb)",
            "a package sized from a wheel (not 'installed here') lacks its .pyc files (a few per cent)",
            "a torch wheel of another version than the pinned one is named in torch_wheels.why",
        ],
    }


def _has(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def measure(timeout: float) -> dict:
    """Install requirements-cpu.txt into a fresh venv and size it."""
    work = Path(tempfile.mkdtemp(prefix="dl101-size-"))
    try:
        env_dir = work / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        py = env_dir / "bin" / "python"
        subprocess.run(
            [str(py), "-m", "pip", "install", "--no-cache-dir", "--quiet", "-r", str(REQUIREMENTS)],
            check=True,
            timeout=timeout,
            cwd=ROOT,
        )
        probe = "import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.version.cuda)"
        versions = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, check=True).stdout.split()
        site = next(env_dir.glob("lib/python*/site-packages"))
        sizes = {p.name: tree_bytes(p) / MB for p in site.iterdir() if p.is_dir() and not p.name.endswith("-info")}
        nvidia = sorted(p.name for p in site.iterdir() if p.name.startswith(("nvidia", "triton")))
        torch_dir = site / "torch"
        drops = sum(tree_bytes(torch_dir / d) for d in ("test", "include") if (torch_dir / d).is_dir())
        drops += sum(
            p.stat().st_size for p in (torch_dir / "bin").glob("*") if p.is_file() and p.name != "torch_shm_manager"
        )
        drops /= MB
        return {
            "measured": True,
            "venv_mb": round(tree_bytes(env_dir) / MB),
            "site_packages_mb": round(tree_bytes(site) / MB),
            "torch": versions[0],
            "torchvision": versions[1],
            "cuda": versions[2],  # "None": the CPU build
            "nvidia_or_triton_installed": nvidia,
            "largest_mb": {k: round(v) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:8]},
            "torch_mb_the_image_drops": round(drops),  # test/, include/ and the C++ test binaries in bin/
        }
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python scripts/cpu_install_size.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--estimate", action="store_true", help="do not install, even if the CPU index answers")
    ap.add_argument("--wheels", action="append", default=[], help="another folder with torch wheels")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds the measured install may take")
    args = ap.parse_args(argv)
    result = measure(args.timeout) if not args.estimate and index_answers() else estimate(args.wheels)
    result["requirements"] = {"torch": pinned("torch"), "torchvision": pinned("torchvision")}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
