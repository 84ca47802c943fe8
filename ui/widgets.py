"""Implementation of the shared page helpers (see ``ui/__init__.py``)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab import images, params
from lab.device import DeviceInfo, resolve_device
from ui.jobs import heavy_run

DEVICE_KEY = "global.device"
SEED_KEY = "global.seed"
#: The URL query key that keeps :func:`image_input`'s sample choice (no lab ``Param`` is called this).
PHOTO_QUERY_KEY = "photo"
#: ``{page script hash: {query key: value or None}}``: link entries owned by widgets other than ``controls``.
_CLAIMS_KEY = "_url.claims"


# --- globals set in the sidebar by app.py ----------------------------------------


def current_seed() -> int:
    """The global random seed chosen in the sidebar."""
    return int(st.session_state.get(SEED_KEY, 0))


def current_device() -> DeviceInfo:
    """The device the sidebar choice resolves to (imports torch)."""
    return resolve_device(st.session_state.get(DEVICE_KEY, "auto"))


def page_header(title: str, intro: str = "") -> DeviceInfo:
    """Title, a one-paragraph intro and the device in use; returns that device."""
    info = current_device()
    st.title(title)
    st.caption(f"Computing on **{info.name}** · seed {current_seed()} — change both in the sidebar.")
    if info.note:
        st.warning(info.note, icon=":material/memory:")
    if intro:
        st.markdown(intro)
    _link_notice()  # the one notice that lists what a shared link got wrong sits here, under the intro
    return info


# --- one notice per run for everything a link got wrong ---------------------------------------------


def _link_notice() -> dict | None:
    """This script run's link notice: ``{"slot": st.empty(), "problems": [...]}`` (created on first use).

    Kept on the run's context and recognised by its ``cursors`` dict, which
    Streamlit replaces at the start of every run, so each run starts empty.
    ``None`` outside a script run (bare mode).
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        return None
    notice = getattr(ctx, "_dl101_link_notice", None)
    if notice is None or notice["run"] is not ctx.cursors:
        notice = {"run": ctx.cursors, "slot": st.empty(), "problems": []}
        ctx._dl101_link_notice = notice
    return notice


def link_problem(*problems: str) -> None:
    """Add lines to the run's single "the link was not valid" notice (shown once, listing every fix).

    Each line must name the setting and what it expects; it must never contain
    the link's raw value (use :func:`lab.params.safe_text` if a value must be shown).
    """
    if not problems:
        return
    notice = _link_notice()
    if notice is None:
        st.warning("Some settings in the link were not valid:\n\n- " + "\n- ".join(problems))
        return
    notice["problems"].extend(problems)
    lines = "\n".join(f"- {p}" for p in notice["problems"])
    notice["slot"].warning(
        f"**Some settings in this link were not valid**, so defaults were used instead:\n\n{lines}\n\n"
        "Change them with the controls below; the address bar then holds a link that works.",
        icon=":material/link_off:",
    )


# --- widgets from specs, with URL state -------------------------------------------


def _log_options(p: params.Param) -> list[float]:
    """A 1–2–5 ladder from ``p.lo`` to ``p.hi`` for a log-scale slider."""
    lo, hi = float(p.lo or 1e-4), float(p.hi or 10.0)
    ladder = []
    for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa}e{exp}")
            if lo * (1 - 1e-9) <= value <= hi * (1 + 1e-9):
                ladder.append(value)
    return ladder


def _snap(value: float, options: Sequence[float]) -> float:
    return min(options, key=lambda o: abs(math.log(o) - math.log(max(value, 1e-300))))


def _widget(p: params.Param, key: str, container: Any) -> Any:
    """Create the widget for one spec. Its value lives in ``st.session_state[key]`` (set by :func:`controls`).

    That value is also passed as the widget's default, so the element the browser
    receives carries it: a widget the browser mounts without its state (its first
    run was superseded by a rerun, e.g. a sidebar seed change) shows this value,
    not the slider's minimum or an empty selection.
    """
    common = {"key": key, "help": p.help or None}
    value = st.session_state[key]
    if p.kind == "bool":
        return container.toggle(p.label, value=bool(value), **common)
    if p.kind == "choice":
        options = list(p.options)
        index = options.index(value) if value in options else 0
        return container.selectbox(p.label, options, index=index, format_func=p.format_option, **common)
    if p.kind == "multi":
        return container.multiselect(
            p.label, p.options, default=list(value), format_func=p.format_option, max_selections=p.limit, **common
        )
    if p.kind == "text":
        return container.text_input(p.label, value=str(value), max_chars=p.limit, **common)
    if p.kind == "log":
        options = _log_options(p)
        st.session_state[key] = value = _snap(float(value), options)
        return container.select_slider(p.label, options=options, value=value, format_func=lambda v: f"{v:g}", **common)
    if p.kind == "int":
        return container.slider(p.label, int(p.lo), int(p.hi), value=int(value), step=int(p.step or 1), **common)
    return container.slider(
        p.label, float(p.lo), float(p.hi), value=float(value), step=float(p.step) if p.step else None, **common
    )


def controls(specs: Iterable[params.Param], page: str, container: Any = None) -> dict[str, Any]:
    """Build one widget per spec and return ``{name: value}``.

    The first time a widget appears in a session its value comes from the URL
    query (a shared link), falling back to its default; one notice per run
    (under the page header, see :func:`link_problem`) lists what the link got
    wrong across every ``controls`` call, naming each setting and what it
    expects, never echoing the link's value. Several groups may share one ``page`` name. Values survive
    navigating away and back (Streamlit forgets the state of widgets that were
    not drawn, so we keep a copy). Call :func:`sync_url` once, with every group.
    """
    specs = list(specs)
    container = container if container is not None else st
    _seed_from_link(specs, page)
    values = {}
    for p in specs:
        key = f"{page}.{p.name}"
        if key not in st.session_state:  # the widget was dropped while another page was shown
            st.session_state[key] = st.session_state[f"_keep.{key}"]
        values[p.name] = _widget(p, key, container)
        st.session_state[f"_keep.{key}"] = values[p.name]
    return values


def _seed_from_link(specs: list[params.Param], page: str) -> None:
    """A group's settings seen for the first time in this session (drawn or not) take the link's values,
    as kept copies; the link's problems go into the run's notice."""
    fresh = [
        p
        for p in specs
        if f"{page}.{p.name}" not in st.session_state and f"_keep.{page}.{p.name}" not in st.session_state
    ]
    if fresh:
        from_link, problems = params.from_query(fresh, st.query_params.to_dict())
        for p in fresh:
            st.session_state[f"_keep.{page}.{p.name}"] = from_link[p.name]
        link_problem(*problems)


def kept(specs: Iterable[params.Param], page: str) -> dict[str, Any]:
    """The values :func:`controls` would return for ``specs``, without drawing their widgets.

    For a group whose widgets are not drawn in this run (their tab is closed): the
    widget's state, or the copy kept while it was not drawn, or (first time in this
    session) the link's value, with the link's problems in the run's notice. The
    widgets take these values when they are drawn again.
    """
    specs = list(specs)
    _seed_from_link(specs, page)
    values = {}
    for p in specs:
        key = f"{page}.{p.name}"
        values[p.name] = st.session_state[key] if key in st.session_state else st.session_state[f"_keep.{key}"]
        st.session_state[f"_keep.{key}"] = values[p.name]  # e.g. set by a click in another tab: kept from now on
    return values


def sticky(make: Callable[..., Any], *args: Any, key: str, **kwargs: Any) -> Any:
    """``make(*args, key=key, **kwargs)`` (a Streamlit widget) whose value survives runs that do not draw it.

    Streamlit forgets a widget's state when a run does not draw it (a closed tab,
    another page); this keeps a copy and gives it back when the widget is drawn again.
    """
    restore(key)
    value = make(*args, key=key, **kwargs)
    st.session_state[f"_keep.{key}"] = value
    return value


def restore(key: str) -> None:
    """Give a widget's state back from its kept copy when Streamlit forgot it (a run that did not draw it);
    call before creating the widget, and keep ``_keep.<key>`` up to date after it (as :func:`sticky` does)."""
    if key not in st.session_state and f"_keep.{key}" in st.session_state:
        st.session_state[key] = st.session_state[f"_keep.{key}"]


def linked_tabs(
    tabs: dict[str, str], key: str, *, report: Callable[[str], None] | None = None
) -> tuple[Sequence[Any], str]:
    """``st.tabs`` whose open tab reruns the page (build only ``tab.open``); the open tab comes from the link.

    ``tabs`` maps the short names the link uses (``?tab=``) to labels, first = default. The first time
    in a session a linked name opens its tab (one that is not a tab is named through ``report``, by
    default the run's link notice). Returns the tab containers and the open tab's short name.
    """
    first = next(iter(tabs))
    if key not in st.session_state:
        linked = st.query_params.get("tab")
        if linked is not None and linked not in tabs:
            (report or link_problem)(f"Tab (tab): expected one of {', '.join(tabs)}; opened the first tab.")
        st.session_state[f"{key}_default"] = tabs.get(linked or first, tabs[first])
    containers = st.tabs(list(tabs.values()), key=key, on_change="rerun", default=st.session_state[f"{key}_default"])
    active = next((short for short, label in tabs.items() if label == st.session_state.get(key)), first)
    return containers, active


def sync_url(specs: Iterable[params.Param], values: dict[str, Any], *, extra: dict[str, str] | None = None) -> None:
    """Write the non-default settings (and the seed) into the URL so the link reproduces the page.

    Entries that :func:`image_input` keeps in the link (the sample photo) are
    written too, so they survive this call.
    """
    query = params.to_query(specs, values)
    if current_seed() != 0:
        query["seed"] = str(current_seed())
    query.update(_claimed_query())
    query.update(extra or {})
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


# --- images ------------------------------------------------------------------------


@st.cache_data(max_entries=32, show_spinner=False)
def _decode(digest: str, _data: bytes, name: str, min_side: int, max_side: int) -> images.LoadedImage | str:
    """The upload decoded (in the limited worker), or its error message: failures are cached too,
    so a bad or hostile file is decoded once, not on every rerun."""
    # The leading underscore keeps ``_data`` out of the cache key: ``digest`` stands for it.
    try:
        return images.load_image(_data, name, min_side=min_side, max_side=max_side)
    except images.ImageInputError as err:
        return str(err)


@st.cache_data(max_entries=16, show_spinner=False)
def _sample(name: str, min_side: int, max_side: int) -> images.LoadedImage:
    return images.load_sample(name, min_side=min_side, max_side=max_side)


def _page_hash() -> str:
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def _claim_query(name: str, value: str | None) -> None:
    """Keep ``name=value`` in this page's link (``None``: leave it out) and write it now."""
    st.session_state.setdefault(_CLAIMS_KEY, {}).setdefault(_page_hash(), {})[name] = value
    if value is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != value:
        st.query_params[name] = value


def _claimed_query() -> dict[str, str]:
    """The link entries claimed on the current page (see :func:`_claim_query`)."""
    claims = st.session_state.get(_CLAIMS_KEY, {}).get(_page_hash(), {})
    return {name: value for name, value in claims.items() if value is not None}


def image_input(
    key: str,
    *,
    min_side: int = 16,
    max_side: int = images.WORKING_SIDE,
    container: Any = None,
    default_sample: str = "cat",
    url_key: str = PHOTO_QUERY_KEY,
) -> images.LoadedImage:
    """A sample-photo picker plus an uploader; returns the image to work on.

    Widget keys are ``{key}.sample`` and ``{key}.upload``. The sample choice is
    kept in the URL as ``?{url_key}=<name>`` (default ``photo``, left out while
    it is ``default_sample``) so a shared link shows the same photo: read the
    first time the picker appears in a session (a name that is not a sample
    falls back to ``default_sample`` with a warning), kept while navigating away
    and back, and written back when it changes (:func:`sync_url` keeps it).
    One ``image_input`` per page may use the default ``url_key``; give a second
    one its own.

    An upload that cannot be used shows a clear message and the page keeps the
    student's last good upload from this uploader (or, when there is none, the
    chosen sample); the message names the photo that is shown: nothing the
    student had is lost. Replacing a file makes Streamlit run the script once
    with no file in between, so that run must not forget the last good upload.
    """
    container = container if container is not None else st
    samples = images.sample_images()
    names = list(samples)
    sample_key, keep_key = f"{key}.sample", f"_keep.{key}.sample"
    if sample_key not in st.session_state:
        if st.session_state.get(keep_key) in samples:  # the picker was dropped while another page was shown
            st.session_state[sample_key] = st.session_state[keep_key]
        else:  # first time in this session: the link decides
            linked = st.query_params.get(url_key)
            if linked is not None and linked not in samples:
                link_problem(f"Sample photo ({url_key}): expected one of {', '.join(names)}; showing {default_sample}.")
            st.session_state[sample_key] = linked if linked in samples else default_sample
    choice = container.selectbox(
        "Sample photo",
        names,
        key=sample_key,
        format_func=lambda n: f"{n} — {samples[n].caption}",
    )
    st.session_state[keep_key] = choice
    _claim_query(url_key, None if choice == default_sample else choice)
    upload = container.file_uploader(
        "…or upload your own photo",
        type=images.UPLOAD_TYPES,
        key=f"{key}.upload",
        help=f"PNG, JPEG, GIF, BMP, TIFF or WebP. Large photos are downscaled to {max_side} px a side.",
        max_upload_size=20,  # MB; the loader re-checks it on the server (widget limits are browser-side)
    )
    if upload is None:
        return _sample(choice, min_side, max_side)
    good_key = f"_last_upload.{key}"  # the last upload of this uploader that decoded
    data = upload.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get(f"_upload_digest.{key}") != digest:  # a new file: this run decodes and computes
        heavy_run("Taking your upload")  # … so it waits for a run slot (ui.jobs)
        st.session_state[f"_upload_digest.{key}"] = digest
    loaded = _decode(digest, data, upload.name, min_side, max_side)
    if isinstance(loaded, str):  # the file's problem, in words (cached by digest like a success)
        previous = st.session_state.get(good_key)
        if previous is not None:
            fallback, what = previous, "your last good upload"
        else:
            fallback, what = _sample(choice, min_side, max_side), "the sample photo"
        container.error(
            f"{_plain(loaded)}\n\nStill showing {what}, **{_plain(fallback.name)}**.", icon=":material/broken_image:"
        )
        return fallback
    for note in loaded.notes:
        container.info(note, icon=":material/info:")
    st.session_state[good_key] = loaded
    return loaded


def _plain(text: str) -> str:
    """Text shown literally in Markdown (file names are typed by users): special characters escaped."""
    return params.escape_markdown(text)


# --- code and progress -----------------------------------------------------------------


def show_code(source: str, *, filename: str = "dl101_snippet.py", label: str = "Show me the code") -> None:
    """An expander with a runnable plain-PyTorch snippet and a download button."""
    with st.expander(label, icon=":material/code:"):
        st.caption("Plain PyTorch that reproduces what is on screen — paste it into a notebook or run it as a script.")
        st.code(source, language="python")
        st.download_button("Download .py", source, file_name=filename, mime="text/x-python", key=f"dl.{filename}")


def progress_reporter(text: str = "Training") -> Callable[[Any], None]:
    """An ``on_progress`` callback for ``lab.training.run_steps`` that drives a progress bar.

    Every call touches Streamlit, so a click elsewhere on the page interrupts
    the run between steps (Streamlit stops the script at its next ``st`` call).
    """
    bar = st.progress(0.0, text=f"{text}…")

    def on_progress(progress: Any) -> None:
        loss = progress.metrics.get("loss", float("nan"))
        bar.progress(
            min(1.0, progress.fraction),
            text=f"{text}: step {progress.step:,}/{progress.num_steps:,} · loss {loss:.4g} · {progress.elapsed:.1f} s",
        )

    return on_progress
