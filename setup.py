"""Compiles the order path's modules (trading_bot/compiled.py lists them) with mypyc.

Everything else is in pyproject.toml. The build never fails for the compiler's sake: without
mypyc, a C compiler or Python's headers, or with TRADING_BOT_PURE_PYTHON=1 set, the package
installs as plain Python, correct and about half as fast on a backtest's order path.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
PACKAGE_DIR = ROOT / "src" / "trading_bot"
compiled = runpy.run_path(str(PACKAGE_DIR / "compiled.py"))


def _warn(message: str) -> None:
    print(f"trading-bot: {message}; installing the interpreted package", file=sys.stderr)


class BuildExtOrSkip(build_ext):
    """Builds the compiled modules, or none of them: a partial build would not import."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # any compiler failure means: no extensions
            _warn(f"compiling the order path failed ({error})")
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)


def extensions() -> list:
    if compiled["pure_python_asked"](os.environ):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc is not available")
        return []
    sources = [
        str(compiled["source_path"](PACKAGE_DIR, module).relative_to(ROOT))
        for module in compiled["COMPILED_MODULES"]
    ]
    try:
        return mypycify(
            ["--ignore-missing-imports", "--follow-imports=silent", *sources],
            group_name="trading_bot",
        )
    except (Exception, SystemExit) as error:  # mypyc exits on a type error it cannot compile
        _warn(f"mypyc could not compile the order path ({error})")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExtOrSkip})
