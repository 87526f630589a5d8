"""The report in a real browser: headless Chromium, networking off, a full-page screenshot.

Chromium comes from Debian's ``chromium`` package, which ``nox -s tests`` installs where
it is missing; without it this test fails (it is never skipped) and says how to get it.
The screenshot goes to $GRAPHBENCH_SCREENSHOT_DIR if set, else the test's tmp_path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.report_browser import INSTALL_HINT, find_chromium, load_page
from tests.report_fixtures import rendered_report  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


def test_report_renders_every_figure_without_errors(rendered_report, tmp_path):  # noqa: F811
    binary = find_chromium()
    if binary is None:
        pytest.fail(INSTALL_HINT)
    page = load_page(rendered_report, binary)

    out = Path(os.environ.get("GRAPHBENCH_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "report.png"
    shot.write_bytes(page.screenshot_png)
    print(f"screenshot: {shot} ({page.width}x{page.height})")
    assert page.screenshot_png.startswith(b"\x89PNG") and page.height > 2000

    html = rendered_report.read_text()
    assert len(page.figures) == html.count("<figure") >= 9
    for figure in page.figures:
        assert figure["svg"], f"{figure['id']} has no <svg>"
        assert figure["width"] > 100 and figure["height"] > 100, figure
    assert page.console_errors == []
    # Nothing but the file itself (and the browser's own data: URLs) was requested.
    assert [u for u in page.requests if not re.match(r"(file|data):", u)] == []
