"""The committed fixture runs, and the report rendered from them once per test process.

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


# Each module that imports the fixture gets its own copy of it: the page itself is
# kept here, so it is rendered once per test process.
_RENDERED: dict[str, Path] = {}


@pytest.fixture(scope="session")
def rendered_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "page" not in _RENDERED:
        out = tmp_path_factory.mktemp("report") / "report.html"
        assert cli.main(["report", str(CPU_RUN), str(CUDA_RUN), "-o", str(out)]) == 0
        _RENDERED["page"] = out
    return _RENDERED["page"]
