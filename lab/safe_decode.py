"""Decode untrusted images in a separate, memory- and time-limited worker process.

Every Streamlit session shares one server process. A decoder bug, a file that
needs gigabytes, or one that spins for minutes in a pure-Python decoder must
not take that process (and every other visitor) down. So uploads are decoded by
:func:`decode_image` in a small pool of long-lived worker processes:

- each worker limits its own address space (``RLIMIT_AS``: its size after
  start-up plus :data:`MEMORY_BUDGET`), so a huge allocation fails with
  ``MemoryError`` inside the worker instead of swapping the server;
- before each decode it sets its CPU limit (``RLIMIT_CPU``) to what it has used
  plus :data:`CPU_SECONDS`, so a runaway decoder is killed by the kernel; the
  caller also gives up after :data:`TIMEOUT` seconds of wall-clock time and
  kills the worker (a fresh one starts on the next upload);
- the answer comes back as JSON plus raw RGB bytes, never a pickle, so even a
  compromised worker cannot run code in the server.

Why a persistent worker and not fork-per-decode: forking the server (which has
torch and many threads loaded) copies a large page table on every upload and
is unsafe with threads (measured on a loaded 2-core box: 0.2 s per decode of
a small photo). A worker started once with ``python -c`` costs ≈ 1 s the first
time and ≈ 10 ms of pipe traffic per photo after that; a 12 MP photo decodes
as fast as in-process (``bench/bench_safe_decode.py`` measures all three).

Where processes or ``resource`` are unavailable (not POSIX), or the worker
cannot start, the decode runs in this process: the header checks of
:mod:`lab.images` still bound it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lab.images import WORKING_SIDE, ImageInputError, LoadedImage

ROOT = Path(__file__).resolve().parent.parent
#: Address space a worker may add to its own start-up size (bytes).
MEMORY_BUDGET = 400 * 1024 * 1024
#: CPU seconds one decode may use before the kernel stops the worker.
CPU_SECONDS = 5
#: Wall-clock seconds the server waits for one decode (the machine may be busy).
TIMEOUT = 30.0
#: Workers (= decodes at the same time); further uploads wait for a free one.
MAX_WORKERS = 2
#: A worker is replaced after this many decodes (its heap never grows without bound).
RECYCLE_AFTER = 100
#: An idle worker exits after this many seconds without work (~32 MB each back after a class);
#: the next upload starts a fresh one (+0.2 s: a 0.8-MP JPEG took 0.19–0.24 s cold, 0.02–0.03 s warm).
IDLE_EXIT_S = 20.0
#: Largest side a worker may answer with (bounds what the server reads back).
_MAX_ANSWER_SIDE = 16_384

_log = logging.getLogger(__name__)
_BOOT = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from lab.safe_decode import serve; serve()"


# --- the server side -----------------------------------------------------------------------------


class _Worker:
    """One worker process and its pipes; used by one thread at a time."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=str(ROOT),
            close_fds=True,
        )
        self.uses = 0
        self.idle_since = time.monotonic()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                pipe.close()

    def ask(self, header: dict, data: bytes, timeout: float) -> tuple[dict, bytes]:
        """Send one request; return the answer's JSON header and payload. Raises ``TimeoutError``/``EOFError``."""
        self.uses += 1
        head = json.dumps(header).encode()
        deadline = time.monotonic() + timeout
        _write(self.proc.stdin, struct.pack("<IQ", len(head), len(data)) + head, deadline)
        _write(self.proc.stdin, data, deadline)
        n_head, n_payload = struct.unpack("<IQ", _read(self.proc.stdout, 12, deadline))
        if n_head > 65_536 or n_payload > _MAX_ANSWER_SIDE * _MAX_ANSWER_SIDE * 3:
            raise EOFError("malformed answer")
        answer = json.loads(_read(self.proc.stdout, n_head, deadline))
        return answer, _read(self.proc.stdout, n_payload, deadline)


def _write(pipe, data: bytes, deadline: float) -> None:
    """All of ``data`` into ``pipe`` before ``deadline`` (``TimeoutError``): a stuck worker cannot block us."""
    fd, view = pipe.fileno(), memoryview(data)
    os.set_blocking(fd, False)
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise TimeoutError
        try:
            view = view[os.write(fd, view[: 1 << 20]) :]
        except BlockingIOError:
            continue


def _read(pipe, n: int, deadline: float) -> bytes:
    """Exactly ``n`` bytes from ``pipe`` before ``deadline`` (``TimeoutError``), or ``EOFError``."""
    chunks, fd, got = [], pipe.fileno(), 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("the worker exited")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Pool:
    """At most :data:`MAX_WORKERS` workers, started on demand and shared by every session."""

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(MAX_WORKERS)
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def worker(self) -> Iterator[_Worker]:
        if not self._slots.acquire(timeout=TIMEOUT):
            raise ImageInputError("The server is busy decoding other uploads. Please try again in a moment.")
        try:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.alive():
                worker = _Worker()
            ok = False
            try:
                yield worker
                ok = True
            finally:
                if ok and worker.alive() and worker.uses < RECYCLE_AFTER:
                    worker.idle_since = time.monotonic()
                    with self._lock:
                        self._idle.append(worker)
                        if self._reaper is None:
                            self._reaper = threading.Thread(target=self._reap, name="dl101-decode-reaper", daemon=True)
                            self._reaper.start()
                else:
                    worker.stop()
        finally:
            self._slots.release()

    def stop_idle(self, older_than_s: float = IDLE_EXIT_S) -> int:
        """Stop the workers idle for longer than ``older_than_s``; returns how many."""
        now, keep, old = time.monotonic(), [], []
        with self._lock:
            for w in self._idle:
                (old if now - w.idle_since >= older_than_s else keep).append(w)
            self._idle = keep
        for worker in old:
            worker.stop()
        return len(old)

    def _reap(self) -> None:
        while True:
            time.sleep(IDLE_EXIT_S / 4)
            self.stop_idle()

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.stop()


_pool = _Pool()


def isolation_available() -> bool:
    """Whether uploads can be decoded in a limited worker here (POSIX with ``resource``)."""
    try:
        import resource  # noqa: F401
    except ImportError:
        return False
    return os.name == "posix"


def decode_image(
    data: bytes,
    name: str,
    *,
    min_side: int = 16,
    max_side: int = WORKING_SIDE,
    max_pixels: int | None = None,
    timeout: float = TIMEOUT,
) -> LoadedImage:
    """:func:`lab.images.decode_image` in a worker; the same result or the same kind of error.

    A worker that runs out of time, is killed (memory, CPU) or crashes becomes
    an :class:`ImageInputError` naming the file; the worker is replaced.
    """
    from PIL import Image

    from lab import images

    kwargs = {"min_side": int(min_side), "max_side": int(max_side), "max_pixels": int(max_pixels or images.MAX_PIXELS)}
    if not isolation_available():
        return images.decode_image(data, name, **kwargs)
    try:
        with _pool.worker() as worker:
            try:
                answer, payload = worker.ask({"name": name, **kwargs}, data, timeout)
            except TimeoutError:
                worker.stop()
                raise ImageInputError(
                    f"“{name}” took too long to decode (over {timeout:.0f} s), so it was stopped. "
                    "Please upload a smaller or simpler photo (JPEG or PNG)."
                ) from None
            except (EOFError, BrokenPipeError, ValueError, struct.error):
                worker.stop()
                raise ImageInputError(
                    f"“{name}” could not be decoded within the server's memory and time limits. "
                    "Please upload a smaller photo (JPEG or PNG)."
                ) from None
    except OSError as err:  # the worker could not start at all: decode here, bounded by the header checks
        _log.warning("image worker unavailable (%s); decoding in-process", err)
        return images.decode_image(data, name, **kwargs)
    if not answer.get("ok"):
        raise ImageInputError(str(answer.get("message", f"“{name}” cannot be decoded.")))
    width, height = (int(v) for v in answer["size"])
    if not (0 < width <= _MAX_ANSWER_SIDE and 0 < height <= _MAX_ANSWER_SIDE) or len(payload) != width * height * 3:
        raise ImageInputError(f"“{name}” could not be decoded (the decoder's answer was malformed).")
    return LoadedImage(
        image=Image.frombytes("RGB", (width, height), payload),
        name=name,
        format=str(answer["format"]),
        original_size=tuple(int(v) for v in answer["original_size"]),
        notes=[str(n) for n in answer["notes"]],
    )


# --- the worker side ------------------------------------------------------------------------------


def _vm_size() -> int:
    """This process's address-space size in bytes (Linux ``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def serve(budget: int = MEMORY_BUDGET) -> None:  # pragma: no cover — runs in the worker (tests use decode_image)
    """The worker's loop: read a request from stdin, decode, answer on stdout; exit at EOF.

    ``budget``: address space (bytes) this worker may add to its size after start-up.
    """
    import resource

    from lab import images, memory

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers may reach the pipe
    base = _vm_size()
    if base:
        resource.setrlimit(resource.RLIMIT_AS, (base + budget, resource.RLIM_INFINITY))
    # The CPU limit kills with SIGXCPU, which dumps core by default: never a core file in the app's folder.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        head = inp.read(12)
        if len(head) < 12:
            return
        n_head, n_data = struct.unpack("<IQ", head)
        request = json.loads(inp.read(n_head))
        data = inp.read(n_data)
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = int(used.ru_utime + used.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu + CPU_SECONDS, resource.RLIM_INFINITY))
        payload, loaded = b"", None
        try:
            loaded = images.decode_image(
                data,
                request["name"],
                min_side=request["min_side"],
                max_side=request["max_side"],
                max_pixels=request["max_pixels"],
            )
            payload = loaded.image.tobytes()
            answer = {
                "ok": True,
                "size": list(loaded.image.size),
                "format": loaded.format,
                "original_size": list(loaded.original_size),
                "notes": loaded.notes,
            }
        except ImageInputError as err:
            answer = {"ok": False, "message": str(err)}
        except MemoryError:
            answer = {"ok": False, "message": f"“{request['name']}” needs too much memory to decode."}
        del data
        head = json.dumps(answer).encode()
        out.write(struct.pack("<IQ", len(head), len(payload)) + head + payload)
        out.flush()
        payload = loaded = None
        memory.trim()  # a 12-MP decode leaves ~100 MB of freed heap; an idle worker should not hold it
