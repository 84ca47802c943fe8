"""DL101 Visual Lab — entry point: `streamlit run app.py`.

Builds the navigation (one URL per page), the sidebar globals every page shares
(compute device and random seed) and runs the chosen page. It imports no torch:
the home page must render as fast as a one-line Streamlit app.
"""

import logging
import uuid

import streamlit as st

from lab import memory
from lab.device import DEVICE_CHOICES, cuda_hint, heavy_ready, import_heavy, set_base_threads, start_warm_up
from ui.catalog import HOME, LABS
from ui.jobs import page_run
from ui.widgets import DEVICE_KEY, SEED_KEY

st.set_page_config(
    page_title="DL101 Visual Lab",
    page_icon="🧠",  # an emoji favicon is inline; a :material/ one makes every browser fetch it from a font host
    layout="wide",
)

home = st.Page(HOME.script, title=HOME.title, icon=HOME.icon, default=True)
labs = [st.Page(p.script, title=f"{p.number}. {p.title}", icon=p.icon, url_path=p.url_path) for p in LABS]
page = st.navigation({"": [home], "Labs": labs})
log = logging.getLogger("dl101")

# Freed heap goes back to the OS (glibc keeps it in per-thread arenas otherwise).
memory.start_trimmer()

# --- sidebar globals (kept across pages because this script runs on every page) ---
if SEED_KEY not in st.session_state:  # first run of the session: a shared link may carry a seed
    raw_seed = st.query_params.get("seed", "0")
    try:
        st.session_state[SEED_KEY] = max(0, min(2**31 - 1, int(raw_seed[:12])))
        seed_ok = raw_seed.strip().isdigit() and int(raw_seed) == st.session_state[SEED_KEY]
    except ValueError:
        st.session_state[SEED_KEY], seed_ok = 0, False
    if not seed_ok:  # name the parameter; never echo a link's value (it would render as Markdown)
        st.toast("The link's *seed* was not a whole number from 0 to 2147483647; using "
                 f"{st.session_state[SEED_KEY]}.", icon=":material/info:")  # fmt: skip
cuda_ok, cuda_reason = cuda_hint()
with st.sidebar:
    st.markdown("### DL101 Visual Lab")
    st.selectbox(
        "Compute device",
        DEVICE_CHOICES,
        key=DEVICE_KEY,
        format_func=lambda c: (
            {"auto": "Auto (GPU if available)", "cpu": "CPU", "cuda": "CUDA GPU"}[c]
            + ("" if cuda_ok or c != "cuda" else " — unavailable")
        ),
        help="Where PyTorch runs the labs' models. Every lab works on the CPU.",
    )
    if not cuda_ok:
        st.caption(f"CUDA is disabled: {cuda_reason}.")
    st.number_input(
        "Random seed",
        min_value=0,
        max_value=2**31 - 1,
        step=1,
        key=SEED_KEY,
        help="Seeds data generation, initialisation and sampling: the same seed reproduces a run.",
    )
    in_use = "CUDA GPU" if cuda_ok and st.session_state[DEVICE_KEY] != "cpu" else "CPU"
    st.caption(f"Device in use: **{in_use}**")

# Lab pages need torch: the first one after a server start waits here, visibly, while one
# thread imports it for everybody (concurrent first imports crash: lab.device.import_heavy).
# Last resort: a bug must never show a visitor a traceback or the server's paths. Streamlit's
# own control flow (rerun, stop) derives from BaseException and passes through untouched.
try:
    if page.url_path:
        if not heavy_ready():
            with st.spinner("Warming up PyTorch for this server (once, a few seconds)…"):
                import_heavy()
        set_base_threads()  # each rerun is a new thread: start it on the policy's base (lab.device)
    # A lab's first run in this session is heavy (imports, models, first figures): it waits for a run slot
    # (ui.jobs.page_run) so a class opening the app at once does not slow the students already in.
    opening = page.url_path and st.session_state.get("_opened_page") != page.url_path
    with page_run(opening=page.title if opening else ""):
        # Marked open only once it has its slot: a click while it waited ends that run, and the next one is
        # still an opening (it queues again; a session's newer run replaces its older one in the line).
        st.session_state["_opened_page"] = page.url_path
        page.run()
except Exception:
    error_id = uuid.uuid4().hex[:8]
    log.exception("page %r failed (error id %s)", page.url_path or "home", error_id)
    st.error(
        "Sorry — something went wrong on this page. Reload the page (F5) to start it again; "
        f"your settings are kept in the link. If it happens again, tell your teacher the error id `{error_id}`.",
        icon=":material/error:",
    )

# The first visitor starts importing torch in the background once their page has been drawn (an import
# running beside the first render holds the GIL and slowed the home page's cold start by up to 1.5×);
# the home page never waits for it, and a lab page imports under the same lock anyway (above).
start_warm_up()
