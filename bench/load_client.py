"""A Streamlit client that speaks the browser's own protocol: one object per simulated student.

The frontend and the server talk over one websocket (``/_stcore/stream``) in protobuf
messages that ship with the ``streamlit`` package: the browser sends ``BackMsg``
(``rerun_script`` carrying a ``ClientState`` with every widget value it set), the server
answers with ``ForwardMsg`` (``new_session`` when a script run starts, ``delta`` per
element, ``script_finished`` at the end). Uploads go over HTTP: the client asks for
upload URLs (``file_urls_request``), ``PUT``s the file as multipart form data with the
XSRF header, then reruns with a ``file_uploader_state_value`` naming the file. Images
and audio are served from ``/media/…`` by the replica that drew them: the client fetches
them as a browser would, which is what proves a balancer keeps a session on one replica.

Everything a test needs: ``Student.open(page)``, ``set(label, value)``, ``click(label)``,
``upload(label, name, data)``; each returns an ``Interaction`` with its latency from
the message sent to ``script_finished`` (the moment the browser's spinner stops).
Uses ``websockets`` and ``requests`` (both dependencies of streamlit itself).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

#: Element types that are widgets (the oneof name in ``Element``) and the field their value travels in.
WIDGET_KINDS = {
    "button": "trigger_value",
    "checkbox": "bool_value",  # st.checkbox and st.toggle
    "slider": "double_array_value",  # st.slider; st.select_slider sends string_array_value
    "selectbox": "string_value",
    "radio": "string_value",
    "number_input": "double_value",  # int_value for integer inputs
    "button_group": "string_array_value",  # segmented_control, pills
    "multiselect": "string_array_value",
    "file_uploader": "file_uploader_state_value",
    "text_input": "string_value",
}
FINISHED_OK = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class ProtocolError(RuntimeError):
    """The server did something a browser would show as a failure (closed, exception, timeout)."""


@dataclass
class Widget:
    kind: str  # the Element oneof name: "slider", "selectbox", "button", …
    label: str
    id: str
    proto: Any  # the widget's protobuf message (options, min/max, data_type…)


@dataclass
class Interaction:
    """One thing a student did and how long the server took to finish the rerun it caused."""

    action: str  # e.g. "open convolution", "set Kernel", "click Resample"
    heavy: bool  # a Train/Resample/upload/first-open (compute) vs moving a widget over cached results
    seconds: float
    error: str = ""  # empty when the rerun finished cleanly
    media: int = 0  # images/audio fetched from /media after the run
    replica: str = ""  # the balancer's replica header, when there is one
    at: float = 0.0  # when it started, seconds since the class began (bench_load sets it)


@dataclass
class _Run:
    elements: dict[tuple[int, ...], tuple[str, Any]] = field(default_factory=dict)


class Student:
    """One browser tab: a cookie jar, one websocket, the widget values it has set."""

    def __init__(self, base_url: str, *, timeout: float = 180.0, fetch_media: bool = True) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the load client only talks to the loopback interface")
        self.base_url = base_url.rstrip("/")
        self.ws_url = "ws" + self.base_url[4:] + "/_stcore/stream"
        self.timeout = timeout
        self.fetch_media = fetch_media
        self.http = requests.Session()
        self.http.trust_env = False  # never a proxy: loopback only
        self.session_id = ""
        self.page_name = ""
        self.page_hash = ""
        self.pages: dict[str, str] = {}  # url_pathname -> page_script_hash
        self.states: dict[str, WidgetState] = {}  # widget id -> last value this client set
        self.query_string = ""  # the page's URL query, as the app last set it (sent back like a browser)
        self.current = _Run()
        self.finished = _Run()  # elements of the last run that finished
        self.replica = ""
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._done: asyncio.Queue = asyncio.Queue()
        self._file_urls: dict[str, Any] = {}
        self._auto: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id -> (interval, its rerun timer)
        self.auto_reruns = 0  # fragment reruns sent on the server's auto_rerun request (st.fragment(run_every))
        self.closed_reason = ""

    # --- connection ---------------------------------------------------------------
    async def connect(self, *, resume: str = "") -> None:
        """GET the health endpoint (XSRF cookie, balancer cookie), then open the websocket.

        ``resume``: the session id to ask for back, as the frontend does when it reconnects.
        """
        from websockets.asyncio.client import connect

        r = await asyncio.to_thread(self.http.get, f"{self.base_url}/_stcore/health", timeout=30)
        r.raise_for_status()
        self.replica = r.headers.get("X-DL101-Replica", "")
        xsrf = self.http.cookies.get("_streamlit_xsrf", "")
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        headers = {"Origin": self.base_url}
        if cookie:
            headers["Cookie"] = cookie
        self._ws = await connect(
            self.ws_url,
            subprotocols=["streamlit", xsrf or "", resume]
            if resume
            else ["streamlit", xsrf]
            if xsrf
            else ["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=30,
            proxy=None,
        )
        self._reader = asyncio.create_task(self._read())

    async def reconnect(self) -> Interaction:
        """What the frontend does after "Connection lost": same cookies, new websocket, ask for the
        old session back, rerun the page. A replica that lost the session starts a fresh one."""
        old = self.session_id
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._ws, self._reader, self.closed_reason = None, None, ""
        self._done = asyncio.Queue()
        self.finished, self.current = _Run(), _Run()
        t0 = time.perf_counter()
        await self.connect(resume=old)
        msg = BackMsg()
        msg.rerun_script.CopyFrom(
            self._client_state(page_hash=self.pages.get(self.page_name, ""), page_name=self.page_name)
        )
        result = await self._roundtrip(f"reconnect {self.page_name or 'home'}", msg, heavy=True)
        result.seconds = time.perf_counter() - t0
        return result

    async def close(self) -> None:
        self._stop_auto()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self.http.close()

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for data in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg)
        except ConnectionClosed as err:
            self.closed_reason = f"websocket closed ({err.rcvd.code if err.rcvd else 'no close frame'})"
        except Exception as err:  # a malformed message is a protocol failure, not a crash of the client
            self.closed_reason = f"{type(err).__name__}: {err}"
        else:
            self.closed_reason = self.closed_reason or "websocket closed by the server"
        self._done.put_nowait(None)  # wake whoever waits for a script run

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            ns = msg.new_session
            if ns.initialize.session_id:
                self.session_id = ns.initialize.session_id
            for p in ns.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
            self.page_hash = ns.page_script_hash or self.page_hash
            self.current = _Run()
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.url_pathname] = p.page_script_hash
            if msg.navigation.page_script_hash:
                self.page_hash = msg.navigation.page_script_hash
        elif kind == "delta":
            delta = msg.delta
            path = tuple(msg.metadata.delta_path)
            if delta.WhichOneof("type") == "new_element":
                el = delta.new_element
                el_kind = el.WhichOneof("type")
                self.current.elements[path] = (el_kind, getattr(el, el_kind))
            elif delta.WhichOneof("type") == "add_block":
                self.current.elements[path] = ("block", delta.add_block)
        elif kind == "script_finished":
            if msg.script_finished == FINISHED_OK:
                self.finished = self.current
            if msg.script_finished != FINISHED_FRAGMENT:  # a fragment's own run ends no rerun we wait for
                self._done.put_nowait(msg.script_finished)
        elif kind == "auto_rerun":  # st.fragment(run_every=…): the browser reruns the fragment on a timer
            fid, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid and interval > 0 and self._auto.get(fid, (None,))[0] != interval:
                self._stop_auto([fid])
                self._auto[fid] = (interval, asyncio.get_running_loop().create_task(self._auto_rerun(fid, interval)))
        elif kind == "stop_auto_rerun":
            self._stop_auto(list(msg.stop_auto_rerun.fragment_ids))
        elif kind == "page_info_changed":  # the app wrote st.query_params: the address bar changes
            self.query_string = msg.page_info_changed.query_string
        elif kind == "file_urls_response":
            self._file_urls[msg.file_urls_response.response_id] = msg.file_urls_response
        elif kind == "page_not_found":
            self._done.put_nowait("page not found")

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        while not self.closed_reason:
            await asyncio.sleep(interval)
            msg = BackMsg()
            cs = self._client_state(page_hash=self.page_hash)
            cs.fragment_id, cs.is_auto_rerun = fragment_id, True
            msg.rerun_script.CopyFrom(cs)
            try:
                await self._ws.send(msg.SerializeToString())
            except Exception:
                return
            self.auto_reruns += 1

    def _stop_auto(self, fragment_ids: list[str] | None = None) -> None:
        for fid in list(self._auto) if fragment_ids is None else fragment_ids:
            if fid in self._auto:
                self._auto.pop(fid)[1].cancel()

    # --- what the page shows ------------------------------------------------------
    def widgets(self) -> list[Widget]:
        out = []
        for kind, proto in self.finished.elements.values():
            if kind in WIDGET_KINDS and getattr(proto, "id", ""):
                out.append(Widget(kind, getattr(proto, "label", ""), proto.id, proto))
        return out

    def widget(self, label: str, kind: str | None = None) -> Widget:
        """The widget whose label starts with ``label`` (and of ``kind``, when given).

        ``label`` may list alternatives, ``"Step for the table|Step (state after"``: the first
        one found wins (pages reword labels; a scenario can name the old and the new one).
        """
        found = [
            w
            for alternative in label.split("|")
            for w in self.widgets()
            if w.label.startswith(alternative) and (kind is None or w.kind == kind)
        ]
        if not found:
            names = sorted({f"{w.kind}:{w.label[:40]}" for w in self.widgets()})
            raise ProtocolError(f"no widget labelled {label!r} on {self.page_name or 'home'}; have {names}")
        return found[0]

    def exceptions(self) -> list[str]:
        return [p.message for k, p in self.finished.elements.values() if k == "exception"]

    def texts(self) -> str:
        """Markdown, alerts and captions of the last finished run (to check what the page says)."""
        parts = []
        for kind, proto in self.finished.elements.values():
            if kind in {"markdown", "alert", "heading", "text"}:
                parts.append(getattr(proto, "body", ""))
        return "\n".join(parts)

    def media_urls(self) -> list[str]:
        urls = []
        for kind, proto in self.finished.elements.values():
            if kind == "imgs":
                urls += [img.url for img in proto.imgs if img.url.startswith("/media/")]
            elif kind in {"audio", "video"} and proto.url.startswith("/media/"):
                urls.append(proto.url)
        return urls

    # --- what a student does ------------------------------------------------------
    async def open(self, page: str = "") -> Interaction:
        """Open ``/<page>`` (a fresh tab's first run, or a click in the navigation)."""
        if self._ws is None:
            await self.connect()
        self.page_name = page
        self._stop_auto()  # the browser drops the old page's fragment timers
        self.states.clear()  # another page: its widgets are new
        self.query_string = ""
        msg = BackMsg()
        msg.rerun_script.CopyFrom(self._client_state(page_hash=self.pages.get(page, ""), page_name=page))
        return await self._roundtrip(f"open {page or 'home'}", msg, heavy=True)

    async def set(self, label: str, value: Any, *, heavy: bool = False, kind: str | None = None) -> Interaction:
        """Change a widget to ``value`` (an option's label for select widgets, a number, a bool…)."""
        w = self.widget(label, kind)
        self.states[w.id] = _state_for(w, value)
        return await self._rerun(f"set {label}", heavy)

    async def click(self, label: str, *, heavy: bool = True) -> Interaction:
        w = self.widget(label, "button")
        self.states[w.id] = WidgetState(id=w.id, trigger_value=True)  # sent once, then dropped (_rerun)
        return await self._rerun(f"click {label}", heavy)

    async def upload(self, label: str, name: str, data: bytes, mime: str = "image/jpeg") -> Interaction:
        """Upload ``data`` into the file uploader labelled ``label``; the rerun it causes is timed too."""
        w = self.widget(label, "file_uploader")
        t0 = time.perf_counter()
        request_id = uuid.uuid4().hex
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self._ws.send(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout
        while request_id not in self._file_urls:
            if time.monotonic() > deadline or self.closed_reason:
                return Interaction(
                    f"upload {name}", True, time.perf_counter() - t0, "no upload URL", replica=self.replica
                )
            await asyncio.sleep(0.01)
        urls = self._file_urls.pop(request_id).file_urls[0]
        headers = {"X-Xsrftoken": self.http.cookies.get("_streamlit_xsrf", "")}
        r = await asyncio.to_thread(
            self.http.put,
            self.base_url + urls.upload_url,
            files={name: (name, data, mime)},
            headers=headers,
            timeout=60,
        )
        if r.status_code != 204:
            return Interaction(
                f"upload {name}", True, time.perf_counter() - t0, f"upload HTTP {r.status_code}", replica=self.replica
            )
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        self.states[w.id] = WidgetState(id=w.id, file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]))
        done = await self._rerun(f"upload {name}", True)
        done.seconds = time.perf_counter() - t0
        return done

    async def rerun(self, *, heavy: bool = False) -> Interaction:
        """Rerun with the same widget values (what pressing R in the browser does)."""
        return await self._rerun("rerun", heavy)

    # --- protocol -----------------------------------------------------------------
    def _client_state(self, *, page_hash: str, page_name: str = "") -> ClientState:
        cs = ClientState(page_script_hash=page_hash, page_name=page_name, query_string=self.query_string)
        cs.widget_states.widgets.extend(self.states.values())
        cs.context_info.timezone = "UTC"
        cs.context_info.locale = "en-GB"
        cs.context_info.url = f"{self.base_url}/{self.page_name}"
        return cs

    async def _rerun(self, action: str, heavy: bool) -> Interaction:
        live = {w.id for w in self.widgets()}
        for stale in set(self.states) - live:  # the browser forgets widgets that left the page
            self.states.pop(stale)
        msg = BackMsg()
        msg.rerun_script.CopyFrom(self._client_state(page_hash=self.page_hash, page_name=""))
        for wid in [k for k, v in self.states.items() if v.WhichOneof("value") == "trigger_value"]:
            del self.states[wid]  # a trigger is true for one run only (not resent by a fragment timer)
        return await self._roundtrip(action, msg, heavy)

    async def _roundtrip(self, action: str, msg: BackMsg, heavy: bool) -> Interaction:
        while not self._done.empty():  # nothing stale may answer for this run
            self._done.get_nowait()
        t0 = time.perf_counter()
        error = ""
        if self.closed_reason:
            return Interaction(action, heavy, 0.0, self.closed_reason, replica=self.replica)
        try:
            await self._ws.send(msg.SerializeToString())
            deadline = t0 + self.timeout
            while True:
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise TimeoutError
                status = await asyncio.wait_for(self._done.get(), left)
                if status is None:
                    error = self.closed_reason
                    break
                if status == "page not found":
                    error = "page not found"
                    break
                if status == FINISHED_EARLY:
                    continue  # st.rerun() inside the page, or a newer rerun: keep waiting
                if status != FINISHED_OK:
                    error = f"script finished with status {status}"
                break
        except TimeoutError:
            error = f"no script_finished within {self.timeout:.0f} s"
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
        seconds = time.perf_counter() - t0
        if not error and self.exceptions():
            error = "exception on the page: " + self.exceptions()[0][:200]
        media = 0
        if not error and self.fetch_media:
            media, error = await self._fetch_media()
        return Interaction(action, heavy, seconds, error, media, self.replica)  # replica: of the last HTTP answer

    async def _fetch_media(self) -> tuple[int, str]:
        import requests

        urls = self.media_urls()
        for url in urls:
            try:
                r = await asyncio.to_thread(self.http.get, self.base_url + url, timeout=30)
            except requests.ConnectionError:
                # A keep-alive connection the server closed just as we reused it: a browser retries an
                # idempotent GET once on a fresh connection, and so do we. A second failure is an error.
                try:
                    r = await asyncio.to_thread(self.http.get, self.base_url + url, timeout=30)
                except requests.RequestException as err:
                    return len(urls), f"media {type(err).__name__} for {url[:40]}"
            except requests.RequestException as err:
                return len(urls), f"media {type(err).__name__} for {url[:40]}"
            self.replica = r.headers.get("X-DL101-Replica", self.replica)
            if r.status_code != 200 or not r.content:
                return len(urls), f"media {r.status_code} for {url[:40]}"
        return len(urls), ""


def run(coro: Any) -> Any:
    """``asyncio.run(coro)``, also from a thread whose event loop is already running
    (pytest after Playwright's sync API has started one): then in a fresh thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _state_for(w: Widget, value: Any) -> WidgetState:
    """The WidgetState the browser sends when the user sets ``w`` to ``value``."""
    state = WidgetState(id=w.id)
    p = w.proto
    if w.kind == "checkbox":
        state.bool_value = bool(value)
    elif w.kind in {"selectbox", "radio", "text_input"}:
        if w.kind != "text_input" and str(value) not in list(p.options):
            raise ProtocolError(f"{w.label!r} has no option {value!r}; options: {list(p.options)[:12]}")
        state.string_value = str(value)
    elif w.kind == "slider":
        values = list(value) if isinstance(value, list | tuple) else [value]
        if len(p.options):  # st.select_slider: formatted option labels
            state.string_array_value.data.extend(str(v) for v in values)
        else:
            state.double_array_value.data.extend(float(v) for v in values)
    elif w.kind == "number_input":
        if p.data_type == type(p).INT:
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif w.kind in {"button_group", "multiselect"}:
        values = list(value) if isinstance(value, list | tuple) else [value]
        state.string_array_value.data.extend(str(v) for v in values)
    else:
        raise ProtocolError(f"setting a {w.kind} is not supported")
    return state
