"""Digit Lab: `streamlit run app.py`. The pages draw; everything they compute is in tl_core."""

import streamlit as st

st.set_page_config(page_title="Digit Lab", page_icon=":material/draw:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/grid_view:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("pages/results.py", title="Results", icon=":material/analytics:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/inside.py", title="Inside", icon=":material/biotech:"),
    st.Page("pages/classroom.py", title="Class", icon=":material/groups:"),
]
st.navigation(PAGES).run()
