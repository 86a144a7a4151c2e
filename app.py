"""Digit Lab: `streamlit run app.py`. The pages draw; everything they compute is in tl_core."""

import streamlit as st

from pages.common import language_menu, leave_teacher_mode
from tl_core.i18n import _

st.set_page_config(page_title="Digit Lab", page_icon=":material/draw:", layout="wide")
language_menu()  # first: the page titles below are in the session's language
leave_teacher_mode()

PAGES = [
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("pages/data.py", title=_("Data"), icon=":material/grid_view:"),
    st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:"),
    st.Page("pages/draw.py", title=_("Draw"), icon=":material/draw:"),
    st.Page("pages/results.py", title=_("Results"), icon=":material/analytics:"),
    st.Page("pages/compare.py", title=_("Compare"), icon=":material/compare_arrows:"),
    st.Page("pages/inside.py", title=_("Inside"), icon=":material/biotech:"),
    st.Page("pages/classroom.py", title=_("Class"), icon=":material/groups:"),
]
st.navigation(PAGES).run()
