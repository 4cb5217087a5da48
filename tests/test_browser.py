"""What a learner meets in JupyterLab, checked in a real browser (issue 13, section 4).

The test starts JupyterLab on a free local port (with a token, its own temporary config, runtime
and data folders, fast mode in the kernels' environment), serving a temporary copy of exercise
notebook 04 so that no output is written into the repository. It drives Debian's Chromium through
the `playwright` package (no browser download: `executable_path` points at /usr/bin/chromium),
runs every cell from the menu (Run > Run All Cells) and checks that

* every code cell ran and none shows a traceback: with `DREAMER_LITE_CHECK` unset the checkers
  only print their "not implemented yet" line for the unfinished stubs, which is fine;
* moving a slider of lesson 04's `interact` with the keyboard redraws the picture, and nothing but
  the picture is shown under the widget (an `interact` prints a returned value under it).

A screenshot of the page lands in the test's tmp_path (lab.png), named in any failure message.
Without Chromium or playwright the test skips and says what to install; scripts/setup.sh installs
both (Chromium with apt-get when run as root). About 45 s on 2 busy cores.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "exercises" / "04_value_estimators.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
JUPYTER = Path(sys.executable).parent / "jupyter"
INSTALL = "install Debian's chromium: apt-get install chromium; pip install playwright==1.64.1"
# Without the background-networking flags Chromium keeps calling Google's hosts, which a closed
# network refuses. Playwright adds --headless itself (headless=True).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_ALL_TIMEOUT_S = 6 * 60  # in fast mode Run All takes under half a minute on 2 busy cores
NOT_IMPLEMENTED = "not implemented yet"  # the line a checker prints for an unfinished stub


def missing_tools() -> list[str]:
    """What the test needs and this machine lacks, e.g. ['/usr/bin/chromium']."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(str(CHROMIUM))
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package")
    if not JUPYTER.exists() or importlib.util.find_spec("jupyterlab") is None:
        missing.append("JupyterLab (pip install -e '.[notebooks]')")
    return missing


@dataclass
class Lab:
    """A running JupyterLab server: its URL (with the token) for one notebook, and its log."""

    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(settings_dir: Path) -> None:
    """User settings: no news and no update check (no toast over the notebook, no network)."""
    path = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def wait_for_server(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer {url} in {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab serving a copy of exercise 04 from tmp_path/course, stopped afterwards."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"browser test needs {', '.join(missing)}: {INSTALL}")
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(NOTEBOOK, course / NOTEBOOK.name)
    jupyter_dir = tmp_path / "jupyter"
    write_lab_settings(jupyter_dir / "lab-settings")
    env = dict(os.environ)
    env.pop("DREAMER_LITE_CHECK", None)  # the learner's default: checkers report, never raise
    env.update(
        DREAMER_LITE_FAST="1",
        OMP_NUM_THREADS="1",
        JUPYTER_CONFIG_DIR=str(jupyter_dir / "config"),
        JUPYTER_RUNTIME_DIR=str(jupyter_dir / "runtime"),
        JUPYTER_DATA_DIR=str(jupyter_dir / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(jupyter_dir / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(jupyter_dir / "workspaces"),
        IPYTHONDIR=str(jupyter_dir / "ipython"),
    )
    port, token = free_port(), os.urandom(16).hex()
    args = [
        str(JUPYTER),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={course}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the kernel's real status
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")  # as scripts/lab.sh: root is the course's supported case
    log = tmp_path / "jupyter.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(proc, f"{base}/api/status?token={token}", log)
        yield Lab(url=f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", log=log)
    finally:
        proc.terminate()  # SIGTERM: jupyter shuts its kernels down, then exits
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of the process group started above (server, kernels)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# Page-side checks, evaluated in the browser.
PROMPTS_JS = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'),
                                 p => p.textContent.trim())"""
STDERR_JS = """() => Array.from(document.querySelectorAll(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
    o => o.textContent)"""
# The toolbar's execution indicator says "idle" before any kernel is connected, so the kernel's
# state comes from the application; a click before the kernel is connected opens "Select Kernel".
KERNEL_IDLE_JS = """() => {
    const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
    return kernel?.connectionStatus === 'connected' && kernel.status === 'idle'; }"""
DIALOG_JS = "() => document.querySelector('.jp-Dialog')?.textContent ?? null"
WIDGET_OUTPUTS_JS = """(interact) => Array.from(
    interact.querySelectorAll('.jp-OutputArea-output'),
    o => ({mime: o.getAttribute('data-mime-type'), src: o.querySelector('img')?.src ?? null,
           text: o.textContent.slice(0, 200)}))"""


def test_exercise_runs_in_jupyterlab_and_its_slider_redraws_the_picture(lab, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    code_cells = sum(c.cell_type == "code" for c in nbformat.read(NOTEBOOK, as_version=4).cells)
    screenshot = tmp_path / "lab.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = browser.new_page()
        try:
            run_all_and_move_slider(page, lab, code_cells)
            page.screenshot(path=screenshot)
        except (AssertionError, PlaywrightError) as error:
            page.screenshot(path=screenshot)
            raise AssertionError(
                f"{error}\n(screenshot: {screenshot}; JupyterLab log: {lab.log})"
            ) from error
        finally:
            browser.close()


def wait_kernel_idle(page, timeout_ms: int) -> None:
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_ms, polling=250)


def run_all_and_move_slider(page, lab: Lab, code_cells: int) -> None:
    page.goto(lab.url)
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=120_000)
    wait_kernel_idle(page, timeout_ms=120_000)  # the kernel has started

    # 1. Run > Run All Cells, then wait until no cell is queued or running ([*]).
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    # A dialog (an error, "Select Kernel") ends the wait at once.
    page.wait_for_function(
        f"() => {{ const prompts = ({PROMPTS_JS})(); return ({DIALOG_JS})() !== null"
        " || (prompts.some(p => /\\d/.test(p)) && !prompts.some(p => p.includes('*'))); }",
        timeout=RUN_ALL_TIMEOUT_S * 1000,
        polling=1000,
    )
    dialog = page.evaluate(DIALOG_JS)
    assert dialog is None, f"JupyterLab opened a dialog during Run All: {dialog}"
    wait_kernel_idle(page, timeout_ms=30_000)
    prompts = page.evaluate(PROMPTS_JS)
    assert len(prompts) == code_cells, f"{len(prompts)} code cells shown, {code_cells} in the file"
    not_run = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p)]
    assert not not_run, f"code cells {not_run} did not run (Run All stops at an error): {prompts}"
    tracebacks = [t for t in page.evaluate(STDERR_JS) if "Traceback" in t or "Error" in t]
    assert not tracebacks, "a cell shows an error:\n" + "\n---\n".join(
        t[-1500:] for t in tracebacks
    )
    outputs = page.locator(".jp-OutputArea-output").all_text_contents()
    assert any(NOT_IMPLEMENTED in text for text in outputs), (
        "no checker said 'not implemented yet': did the exercise checkers run on the stubs?"
    )

    # 2. The interact: nothing but its picture under the sliders, before and after a key press.
    interact = page.locator(".widget-interact")
    assert interact.count() == 1, f"expected one interact widget, found {interact.count()}"
    interact.scroll_into_view_if_needed()  # cells out of view are not rendered
    interact.locator(".jp-OutputArea-output img").wait_for(timeout=60_000)
    before = only_a_picture(interact)
    slider = interact.locator(
        ".widget-slider", has=page.locator(".widget-label", has_text=re.compile(r"^k$"))
    )
    readout = slider.locator(".widget-readout")
    assert readout.text_content().strip() == "5", readout.text_content()
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([interact, old]) => { const img = interact.querySelector('.jp-OutputArea-output img');"
        " return img !== null && img.src !== old; }",
        arg=[interact.element_handle(), before],
        timeout=60_000,
    )
    wait_kernel_idle(page, timeout_ms=60_000)  # every output of the redraw has arrived
    assert readout.text_content().strip() == "6", readout.text_content()
    assert only_a_picture(interact) != before


def only_a_picture(interact) -> str:
    """The src of the one image under the interact's sliders; fails if anything else is there."""
    outputs = interact.evaluate(WIDGET_OUTPUTS_JS)
    found = [(o["mime"], o["text"][:80]) for o in outputs]  # no image data in the message
    assert [mime for mime, _ in found] == ["image/png"], (
        f"under the widget there should be only its picture, found (mime, text): {found}"
    )
    return outputs[0]["src"]
