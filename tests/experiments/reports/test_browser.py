"""The run report opened in a real browser (headless Chromium, the Debian package): it renders without
console errors, the screenshot is not blank and the DOM holds the global metrics table.

`make test` installs Chromium when it is missing (as root, with apt-get); without it these tests are
skipped, unless SAMPT_REQUIRE_BROWSER=1 (set by `.ci/run` and `make test-browser`) makes that a failure.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import FAST, run_app, tiny_davis

pytestmark = pytest.mark.browser
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    message = "chromium not installed: run `make test-browser` (installs it as root with apt-get)"
    if os.environ.get("SAMPT_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def headless(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
               "--allow-file-access-from-files", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to the browser console (the report has no scripts: any message is an error,
    e.g. a blocked resource)."""
    return [match.group(1) for match in CONSOLE.finditer(stderr)]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    data_root = tiny_davis(tmp_path_factory.mktemp("data") / "DAVIS")
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    run_app(*FAST, f"dataset.root={data_root}", f"output_dir={run_dir}")
    return run_dir / "report" / "index.html"


def test_report_renders_in_chromium(chromium, report, tmp_path):
    screenshot = tmp_path / "report.png"
    shot = headless(chromium, report, f"--screenshot={screenshot}", "--window-size=1200,1400")
    assert screenshot.is_file(), shot.stderr[-2000:]
    assert console_messages(shot.stderr) == []
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1400, 1200)
    top = pixels[:700]  # provenance and the global metrics table
    assert top.std() > 20 and (top < 128).mean() > 0.005, "the rendered page looks blank"
    dom = headless(chromium, report, "--dump-dom").stdout
    table = re.search(r'<table id="global-metrics">(.*?)</table>', dom, re.S)
    assert table and "J&amp;F-Mean" in table.group(1) and table.group(1).count("<tr>") == 8
    assert '<table id="per-object">' in dom and dom.count("<img ") >= 4


def test_console_errors_are_detected(chromium, tmp_path):
    """The check above can fail: a page that logs to the console is caught."""
    page = tmp_path / "bad.html"
    page.write_text('<html><body><script>console.error("broken report")</script></body></html>')
    result = headless(chromium, page, f"--screenshot={tmp_path / 'bad.png'}", "--window-size=400,300")
    assert any("broken report" in message for message in console_messages(result.stderr)), result.stderr[-2000:]
