"""The `trading-bot` process entry: SIGTERM is an interrupt from the first line on.

Importing the command line takes a few seconds (ccxt, pandas, SQLAlchemy...). A supervisor's
SIGTERM in that window would otherwise kill the process with no word (exit 143), where the
same SIGTERM a moment later stops the bot cleanly. Here it raises KeyboardInterrupt like
Ctrl-C until a command takes the signal over (`run` hands it to its event loop), and an
interrupt before any command started ends with one line and exit code 130, nothing done.
"""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = 130


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, interrupt)
    try:
        from trading_bot.cli import app
    except KeyboardInterrupt:
        sys.stderr.write("trading-bot: stopped while starting; nothing was done\n")
        sys.stderr.flush()
        # not SystemExit: an interrupt that cut through an import can leave the interpreter
        # marked as ended by Ctrl-C, and it then kills itself with SIGINT (exit -2) on the
        # way out; nothing has been done yet, so there is nothing to clean up
        os._exit(INTERRUPTED)
    app()
