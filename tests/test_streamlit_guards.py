"""Guards on the Streamlit internals the app relies on (pages/common.py, .streamlit/config.toml).

Each holds on the pinned Streamlit; after an upgrade, a failure names what changed and what
a class would feel, so the patch is mended (or dropped for a public option) before a lesson.
"""

import inspect
import tomllib
from pathlib import Path

import streamlit
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

ROOT = Path(__file__).resolve().parents[1]
UPGRADED = f"Streamlit {streamlit.__version__}"


def test_the_old_pages_folder_mode_is_still_switched_by_the_flag_common_turns_off() -> None:
    runner = inspect.getsource(script_runner.ScriptRunner)
    assert hasattr(PagesManager, "uses_pages_directory") and (
        "PagesManager.uses_pages_directory" in runner
    ), (
        f"{UPGRADED} no longer decides the old pages-folder mode by "
        "PagesManager.uses_pages_directory: pages/common.py's _through_app_navigation does "
        "nothing, and a page URL opened first on a fresh server may run that page alone, "
        "without the app's navigation. Check the deep-link browser test and mend it."
    )


def test_the_runner_still_clears_keras_through_the_function_common_replaces() -> None:
    runner = inspect.getsource(script_runner.ScriptRunner)
    assert callable(getattr(script_runner, "_clean_problem_modules", None)) and (
        "_clean_problem_modules" in runner
    ), (
        f"{UPGRADED} no longer calls script_runner._clean_problem_modules after a run: "
        "pages/common.py's _keep_the_keras_session replaces nothing. If Keras's session is "
        "now cleared elsewhere, every drawing costs a full garbage collection again and a "
        "training thread can lose its model; find the new place before a lesson."
    )


def test_every_runner_option_the_app_sets_still_exists() -> None:
    options = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    unknown = [
        f"{section}.{name}"
        for section, values in options.items()
        for name in values
        if f"{section}.{name}" not in config._config_options_template
    ]
    assert unknown == [], (
        f"{UPGRADED} dropped the options {unknown} that .streamlit/config.toml sets: "
        "runner.postScriptGC=false kept a full garbage collection off every drawing, "
        "runner.magicEnabled=false kept pages from being rewritten on every rerun."
    )


def test_the_session_peer_is_still_where_common_reads_it() -> None:
    from streamlit.runtime import Runtime
    from streamlit.web.server.starlette import starlette_websocket

    source = inspect.getsource(starlette_websocket)
    assert callable(getattr(Runtime, "get_client", None)) and "def remote_ip" in source, (
        f"{UPGRADED} no longer gives a session's client its TCP peer as "
        "client_context.remote_ip: pages/common.py's on_this_computer finds no address, so "
        "nobody is the teacher on the server's own computer (a passcode still works)."
    )


def test_a_browser_message_is_still_capped_by_the_option_the_app_sets() -> None:
    from streamlit.web.server.starlette import starlette_websocket

    assert "get_max_widget_state_size_bytes" in inspect.getsource(starlette_websocket), (
        f"{UPGRADED} no longer caps what a browser sends by server.maxWidgetStateSize: a "
        "student's single message may again be up to server.maxMessageSize; check both."
    )
