"""Hostile weights files (issue 17, item 1): generated here, never shipped.

Each one must be refused with a clear message *before* ``torch.load`` inflates
anything: measured in a subprocess under ``RLIMIT_AS`` (+300 MB over what the
interpreter already maps), and by its peak RSS growth and CPU time.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from lab import weights as W

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MB = 300

_PROBE = r"""
import json, resource, sys, time
from lab import weights as W
import torch  # noqa: F401  (already imported by lab.weights; counted in the baseline)

def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
data = open(sys.argv[1], "rb").read()
budget = int(sys.argv[2]) * 2**20
limit = vm_bytes() + budget
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu0 = time.process_time()
try:
    W.load_state_dict_bytes(data)
    outcome, message = "loaded", ""
except W.WeightsError as err:
    outcome, message = "refused", str(err)
except BaseException as err:  # MemoryError under the limit: the old behaviour
    outcome, message = type(err).__name__, str(err)[:300]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "message": message,
                  "rss_growth_mb": (rss - rss0) / 1024, "cpu_s": time.process_time() - cpu0}))
"""


def _probe(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), str(BUDGET_MB)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _small_save() -> bytes:
    buf = io.BytesIO()
    torch.save({"fc.bias": torch.zeros(1000)}, buf)
    return buf.getvalue()


def _deflated_bomb(tmp_path: Path) -> Path:
    """A valid torch.save zip whose data record is 400 MB of zeros, deflated to about 0.4 MB."""
    data = _small_save()
    path = tmp_path / "bomb.pth"
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename.endswith("/data/0"):
                zi = zipfile.ZipInfo(info.filename)
                zi.compress_type = zipfile.ZIP_DEFLATED
                with dst.open(zi, "w", force_zip64=True) as f:
                    chunk = bytes(1 << 20)
                    for _ in range(400):
                        f.write(chunk)
            else:
                dst.writestr(info, src.read(info.filename))
    return path


def _lying_sizes(tmp_path: Path) -> Path:
    """A stored member whose central-directory sizes claim 2 GB (the bytes are 4 KB)."""
    data = bytearray(_small_save())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        target = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    name = target.filename.encode()
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + n]) == name:
            break
        pos += 4
    struct.pack_into("<II", data, pos + 20, 0x7FFFFFF0, 0x7FFFFFF0)  # compressed, uncompressed size
    path = tmp_path / "liar.pth"
    path.write_bytes(bytes(data))
    return path


def _legacy(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.pth"
    torch.save({"fc.bias": torch.zeros(1000)}, path, _use_new_zipfile_serialization=False)
    return path


def _many_members(tmp_path: Path) -> Path:
    data = _small_save()
    path = tmp_path / "many.pth"
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        top = src.infolist()[0].filename.split("/")[0]
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        for k in range(W.MAX_ENTRIES + 10):
            dst.writestr(f"{top}/data/{1000 + k}", b"")
    return path


def _foreign_member(tmp_path: Path) -> Path:
    data = _small_save()
    path = tmp_path / "foreign.pth"
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        top = src.infolist()[0].filename.split("/")[0]
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr(f"{top}/../../evil.py", b"print('hi')")
    return path


HOSTILE = {
    "deflated zip bomb (0.4 MB → 400 MB)": (_deflated_bomb, "compressed members"),
    "sizes that lie": (_lying_sizes, "truncated or its zip directory is wrong"),
    "legacy format": (_legacy, "legacy"),
    "too many members": (_many_members, "members"),
    "a member torch.save never writes": (_foreign_member, "never writes"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_weights_are_refused_cheaply_with_a_clear_message(case, tmp_path):
    make, expected = HOSTILE[case]
    path = make(tmp_path)
    assert path.stat().st_size < 2 * 2**20  # small files: the danger is what they claim
    result = _probe(path)
    assert result["outcome"] == "refused", result
    assert expected in result["message"], result
    assert result["rss_growth_mb"] < BUDGET_MB and result["cpu_s"] < 2, result


def test_the_bomb_really_inflates_inside_torch_load(tmp_path):
    """The control: without the archive check, torch.load itself inflates the bomb (here: fails under the limit)."""
    path = _deflated_bomb(tmp_path)
    code = _PROBE.replace(
        "W.load_state_dict_bytes(data)", "torch.load(__import__('io').BytesIO(data), weights_only=True)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(path), str(BUDGET_MB)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"outcome": "crashed"}
    assert result["outcome"] != "refused"
    assert result["outcome"] != "loaded" or result["rss_growth_mb"] > BUDGET_MB


def test_total_uncompressed_size_is_capped(monkeypatch):
    buf = io.BytesIO()
    torch.save({"fc.weight": torch.zeros(1000, 1024)}, buf)  # 4 MB of stored data
    monkeypatch.setattr(W, "MAX_UNCOMPRESSED", 2 * 2**20)
    with pytest.raises(W.WeightsError, match=r"would unpack to 4 MB"):
        W.inspect_archive(buf.getvalue())


def test_a_file_over_the_limit_names_the_limit_and_the_other_ways(monkeypatch):
    monkeypatch.setattr(W, "MAX_BYTES", 1000)
    with pytest.raises(W.WeightsError) as err:
        W.read_state_dict(_small_save() + bytes(2000))
    text = str(err.value)
    assert f"{W.MAX_MB} MB" in text and W.ENV_VAR in text and "hub" in text


def test_refusals_are_cached_by_digest(monkeypatch):
    bad = b"PK\x03\x04" + bytes(100)
    calls = []
    real = W.inspect_archive
    monkeypatch.setattr(W, "inspect_archive", lambda *a, **k: (calls.append(1), real(*a, **k)))
    for _ in range(3):
        with pytest.raises(W.WeightsError, match="damaged zip"):
            W.load_state_dict_bytes(bad)
    assert len(calls) == 1


def test_upload_messages_never_contain_the_file_name():
    with pytest.raises(W.WeightsError) as err:
        W.load_state_dict_bytes(b"not weights at all")
    assert "The uploaded file" in str(err.value)


def test_a_bad_local_file_is_read_once_per_version(tmp_path, monkeypatch):
    path = tmp_path / "bad.pth"
    path.write_bytes(b"PK\x03\x04" + bytes(50))
    calls = []
    real = W.read_state_dict
    monkeypatch.setattr(W, "read_state_dict", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    for _ in range(3):
        with pytest.raises(W.WeightsError, match="damaged zip"):
            W.load_state_dict_file(path, "env")
    assert len(calls) == 1
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a new version is read again
    with pytest.raises(W.WeightsError):
        W.load_state_dict_file(path, "env")
    assert len(calls) == 2
