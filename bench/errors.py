"""The one error type the command line turns into a message.

A ``UsageError`` is the user's to fix: a bad flag, a path that cannot be written, a
results file that cannot be read. The command line prints it as one line and exits
with status 2. Every other exception is a bug in graphbench and shows its traceback.
"""

from __future__ import annotations


class UsageError(Exception):
    """Bad input: printed as one line (``graphbench: error: ...``), exit status 2."""


class SchemaError(UsageError):
    """A results file this version of graphbench cannot read (it says which file and why)."""
