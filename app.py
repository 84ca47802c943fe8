"""DL101 Visual Lab — entry point: `streamlit run app.py`.

Builds the navigation (one URL per page), the sidebar globals every page shares
(compute device and random seed) and runs the chosen page. It imports no torch:
the home page must render as fast as a one-line Streamlit app.
"""

import streamlit as st

from lab.device import DEVICE_CHOICES, cuda_hint
from ui.catalog import HOME, LABS
from ui.widgets import DEVICE_KEY, SEED_KEY

st.set_page_config(page_title="DL101 Visual Lab", page_icon=":material/neurology:", layout="wide")

home = st.Page(HOME.script, title=HOME.title, icon=HOME.icon, default=True)
labs = [st.Page(p.script, title=f"{p.number}. {p.title}", icon=p.icon, url_path=p.url_path) for p in LABS]
page = st.navigation({"": [home], "Labs": labs})

# --- sidebar globals (kept across pages because this script runs on every page) ---
if SEED_KEY not in st.session_state:  # first run of the session: a shared link may carry a seed
    try:
        st.session_state[SEED_KEY] = max(0, min(2**31 - 1, int(st.query_params.get("seed", 0))))
    except ValueError:
        st.session_state[SEED_KEY] = 0
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

page.run()
