"""Placeholder until this lab is built: it renders cleanly and says what is coming."""

import streamlit as st

from ui.catalog import LABS

lab_page = next(p for p in LABS if p.script.endswith("logistic_regression.py"))
st.title(f"{lab_page.number}. {lab_page.title}")
st.info("This lab is being built. Here is what it will teach:", icon=":material/construction:")
st.markdown(lab_page.teaches)
