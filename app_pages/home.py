"""Home: one card per lab. Imports no torch, so the app opens instantly."""

import streamlit as st

from ui.catalog import LABS

st.title("DL101 Visual Lab")
st.markdown(
    "Touchable labs for an introductory deep-learning lecture — from logistic regression to "
    "GoogLeNet — running **real PyTorch** on your own data and photos. Pick a lab; every setting "
    "lives in the page's URL, so a link reproduces exactly what you see."
)

for row in range(0, len(LABS), 3):
    columns = st.columns(3, gap="medium")
    for column, lab_page in zip(columns, LABS[row : row + 3], strict=False):
        with column.container(border=True, height="stretch"):
            if lab_page.thumbnail.exists():
                st.image(str(lab_page.thumbnail), width="stretch")
            st.subheader(f"{lab_page.number}. {lab_page.title}", anchor=False)
            st.markdown(lab_page.teaches)
            st.page_link(lab_page.script, label="Open the lab", icon=":material/arrow_forward:")

st.divider()
st.markdown(
    "**How to use it.** Choose the compute device and the random seed in the sidebar; they apply to "
    "every lab. Pages that take a photo start with a bundled sample (cat, astronaut, coffee, rocket, "
    "temple, flower — see `assets/README.md` for licences) and accept your own upload. Each lab has a "
    "*Show me the code* box with plain PyTorch that reproduces what is on screen."
)
