"""Text from results, made safe to print: no escape sequence reaches the terminal.

Result files can hold anything (an error message a framework printed, a crafted run);
printed as is, an ANSI or OSC sequence could recolour, retitle or hyperlink the
terminal. ``plain`` shows every control character as a visible escape instead. Rich
markup in such text is never interpreted: callers pass it as ``rich.text.Text``.
"""

from __future__ import annotations

import re

# C0 and C1 control characters but tab (and newline, which callers split on), plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """``text`` with control characters shown as ``\\x1b`` and the like."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
