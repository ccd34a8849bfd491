"""Where the command line writes, and how a user mistake ends it.

A mistake is one line on stderr and exit code 2, never a traceback; error lines are not
wrapped, so they stay whole for grep.
"""

from __future__ import annotations

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep

USAGE_ERROR = 2


def fail(message: str) -> typer.Exit:
    """Print the mistake; the caller raises what this returns (`raise fail(...)`)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(USAGE_ERROR)
