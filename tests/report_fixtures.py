"""The committed fixture runs, and the report rendered from them once per test process.

The page holds the fixed-shape runs (CPU and CUDA) and the dynamic-shape one, so every
report test, the browser's included, covers both scenarios on one page.

Imported by the report tests (``from tests.report_fixtures import rendered_report``); the
page is built through the command line, once, however many tests read it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import __main__ as cli

DATA = Path(__file__).parent / "data"
CPU_RUN = DATA / "report_cpu"
CUDA_RUN = DATA / "report_cuda"
RUN_B = DATA / "compare_b"
DYNAMIC_RUN = DATA / "report_dynamic"


# Each module that imports the fixture gets its own copy of it: the page itself is
# kept here, so it is rendered once per test process.
_RENDERED: dict[str, Path] = {}


@pytest.fixture(scope="session")
def rendered_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "page" not in _RENDERED:
        out = tmp_path_factory.mktemp("report") / "report.html"
        runs = [str(CPU_RUN), str(CUDA_RUN), str(DYNAMIC_RUN)]
        assert cli.main(["report", *runs, "-o", str(out)]) == 0
        _RENDERED["page"] = out
    return _RENDERED["page"]
