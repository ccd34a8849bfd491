"""The order path's modules that the install compiles with mypyc, and when their source runs
instead.

Compiled, a backtest's order path runs about twice as fast (docs/BENCHMARKS.md); the rest of
the package would gain nothing measurable and stays interpreted. Each compiled module sits
next to its source, and Python imports the compiled one first: a source edited after the
install (an editable checkout, a `git pull`) would silently not run. So the package imports
every one of these modules from its source when any compiled one is older than its source, is
missing, or when TRADING_BOT_PURE_PYTHON is set (to debug, or to measure test coverage). All
or nothing: compiled modules use each other's classes directly, so one module's source beside
the others compiled would not work.

setup.py reads this file on its own (the package is not importable while it builds), so it
imports nothing from the package.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType

COMPILED_MODULES = (
    "trading_bot.domain.enums",
    "trading_bot.domain.fill",
    "trading_bot.domain.ids",
    "trading_bot.domain.market",
    "trading_bot.domain.money",
    "trading_bot.domain.order",
    "trading_bot.domain.order_status",
    "trading_bot.domain.position",
    "trading_bot.domain.rejections",
    "trading_bot.engine.bus",
    "trading_bot.engine.clock",
    "trading_bot.engine.intents",
    "trading_bot.engine.kernel",
    "trading_bot.engine.placer",
    "trading_bot.engine.signal_ledger",
    "trading_bot.execution.market",
    "trading_bot.market_data.history",
    "trading_bot.market_data.marks",
    "trading_bot.orders.manager",
    "trading_bot.portfolio.portfolio",
    "trading_bot.venues.simulated.account",
    "trading_bot.venues.simulated.exchange",
    "trading_bot.venues.simulated.path_matcher",
    "trading_bot.venues.simulated.reservations",
    "trading_bot.venues.simulated.venue_order",
)
PURE_PYTHON_ENV = "TRADING_BOT_PURE_PYTHON"
# a compiled module this much older than its source is stale; below it, the two were written
# by one install (unpacking a wheel may stamp them a moment apart, in either order)
_STALE_AFTER_S = 2.0


def pure_python_asked(environ: Mapping[str, str]) -> bool:
    """TRADING_BOT_PURE_PYTHON set (to anything but 0): no compiling at install, the source at
    run time."""
    return environ.get(PURE_PYTHON_ENV, "") not in ("", "0")


def source_path(package_dir: Path, module: str) -> Path:
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def _compiled_path(source: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = source.with_name(source.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def _sources(package_dir: Path) -> dict[str, Path]:
    return {module: source_path(package_dir, module) for module in COMPILED_MODULES}


def reason_to_run_source(package_dir: Path, environ: Mapping[str, str]) -> str | None:
    """Why the compiled modules must not be used (None: use them, or there are none)."""
    sources = _sources(package_dir)
    compiled = {module: _compiled_path(source) for module, source in sources.items()}
    if all(path is None for path in compiled.values()):
        return None
    if pure_python_asked(environ):
        return f"{PURE_PYTHON_ENV} is set"
    missing = [module for module, path in compiled.items() if path is None]
    if missing:
        return f"the compiled build lacks {', '.join(missing)}"
    stale = [
        module
        for module, path in compiled.items()
        if path is not None
        and sources[module].stat().st_mtime > path.stat().st_mtime + _STALE_AFTER_S
    ]
    if stale:
        return (
            f"{', '.join(stale)} changed after the build; reinstall (pip install -e .) to run "
            "compiled again"
        )
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' source files, ahead of the compiled modules themselves."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self._sources = sources

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        source = self._sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def use_source_if_needed(package_dir: Path) -> None:
    """Run the interpreted source of the compiled modules when they must not be used; warns
    unless it was asked for."""
    reason = reason_to_run_source(package_dir, os.environ)
    if reason is None:
        return
    if not pure_python_asked(os.environ):
        warnings.warn(
            f"trading-bot runs its interpreted source, at about half the backtest speed: {reason}",
            RuntimeWarning,
            stacklevel=3,
        )
    sys.meta_path.insert(0, _SourceFinder(_sources(package_dir)))


def running_compiled() -> bool:
    """Whether this process runs the compiled order path (benchmarks report it)."""
    from trading_bot.engine import clock

    return not (clock.__file__ or "").endswith(".py")
