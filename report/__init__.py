"""The HTML report and the comparison page: stored runs -> one self-contained HTML file.

frame.py (one tidy DataFrame of cells and what is derived from it), plots/ (one
seaborn figure per function, one module per figure family, no I/O), sections/ (one
section per scenario: its frames, tables, figures and citations), tables.py / envinfo.py
(what the page prints), html.py and compare_page.py (the pages), discover.py (which runs
to report).
Needs the ``report`` extra; nothing in bench/ imports this package except, lazily, the
CLI's ``report`` and ``compare --html``.
"""
