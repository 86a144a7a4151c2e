"""Digit Lab: `streamlit run app.py`. The pages draw; everything they compute is in tl_core."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st

st.set_page_config(page_title="Digit Lab", page_icon="✏️", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/data.py", title="Data", icon="🔢"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/draw.py", title="Draw", icon="✏️"),
    st.Page("pages/results.py", title="Results", icon="📊"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/inside.py", title="Inside", icon="🔬"),
]
st.navigation(PAGES).run()
