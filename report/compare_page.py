"""The comparison of two runs as a self-contained page (``python -m bench compare --html``)."""

from __future__ import annotations

import pandas as pd

from bench.analysis.compare import CONFIDENCE, Comparison, change_text
from report import plots
from report.figures import to_svg
from report.templating import render


def render_comparison(result: Comparison, generated_by: str = "") -> str:
    changes = pd.DataFrame(
        [
            {"label": c.label, "ratio": c.ratio, "low": c.low, "high": c.high, "verdict": c.verdict}
            for c in result.cells
        ],
        columns=["label", "ratio", "low", "high", "verdict"],
    )
    title = f"B/A median ratio per cell with its {CONFIDENCE:.0%} interval"
    try:
        svg = to_svg(plots.comparison_ratios(changes, result.threshold), "fig-compare", title)
    except plots.NothingToDraw:
        svg = None
    return render(
        "compare.html.j2",
        result=result,
        rows=[
            {
                "label": c.label,
                "a": f"{c.median_a_ms:.3g}",
                "b": f"{c.median_b_ms:.3g}",
                "ratio": f"{c.ratio:.3f}",
                "ci": f"{c.low:.3f}–{c.high:.3f}",
                "change": change_text(c.ratio),
                "verdict": c.verdict,
                "noisy": c.noisy,
            }
            for c in result.cells
        ],
        svg=svg,
        figure_title=title,
        confidence=f"{CONFIDENCE:.0%}",
        threshold=f"{result.threshold:.0%}",
        generated_by=generated_by,
    )
