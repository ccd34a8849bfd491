"""The compiled order path (mypyc, setup.py): when its source runs instead, and that both
give the same backtest."""

from __future__ import annotations

import ast
import dataclasses
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trading_bot.compiled import (
    COMPILED_MODULES,
    PURE_PYTHON_ENV,
    reason_to_run_source,
    running_compiled,
    source_path,
)
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.position import Lot
from trading_bot.engine.signal_ledger import SignalRecord
from trading_bot.venues.simulated.venue_order import VenueOrder

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = importlib.machinery.EXTENSION_SUFFIXES[0]
# CI sets it: an install that fell back to the interpreted package (setup.py says why only in
# pip's verbose output) must fail the build there instead of passing slowly
REQUIRE_COMPILED = os.environ.get("TRADING_BOT_REQUIRE_COMPILED") == "1"
needs_compiled = pytest.mark.skipif(
    not running_compiled(), reason="the order path is not compiled in this install"
)


def package(tmp_path: Path, *, compiled: bool = True, skip: str = "") -> Path:
    """A package directory holding every compiled module's source and, older, its build."""
    for module in COMPILED_MODULES:
        source = source_path(tmp_path, module)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        os.utime(source, (1_000, 1_000))
        if compiled and module != skip:
            built = source.with_name(source.stem + EXTENSION)
            built.write_bytes(b"")
            os.utime(built, (2_000, 2_000))
    return tmp_path


def run_python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return result.stdout.strip() + result.stderr.strip()


def test_the_install_compiled_the_order_path() -> None:
    if not running_compiled():
        if REQUIRE_COMPILED:
            pytest.fail(
                "the order path is not compiled (TRADING_BOT_REQUIRE_COMPILED=1): "
                "pip install -v -e . shows why"
            )
        pytest.skip("the order path is not compiled in this install")


def test_a_fresh_build_is_used(tmp_path: Path) -> None:
    assert reason_to_run_source(package(tmp_path), {}) is None


def test_an_install_without_compiled_modules_needs_no_reason(tmp_path: Path) -> None:
    assert reason_to_run_source(package(tmp_path, compiled=False), {}) is None


def test_a_source_edited_after_the_build_runs_instead_and_says_which(tmp_path: Path) -> None:
    directory = package(tmp_path)
    edited = source_path(directory, "trading_bot.engine.kernel")
    os.utime(edited, (3_000, 3_000))
    reason = reason_to_run_source(directory, {})
    assert reason is not None
    assert "trading_bot.engine.kernel changed after the build" in reason
    assert "pip install -e ." in reason


def test_a_build_missing_a_module_is_not_used_at_all(tmp_path: Path) -> None:
    reason = reason_to_run_source(package(tmp_path, skip="trading_bot.domain.order"), {})
    assert reason == "the compiled build lacks trading_bot.domain.order"


@pytest.mark.parametrize(("value", "runs_source"), [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_chooses_the_source(
    tmp_path: Path, value: str, runs_source: bool
) -> None:
    reason = reason_to_run_source(package(tmp_path), {PURE_PYTHON_ENV: value})
    assert (reason is not None) is runs_source


@needs_compiled
def test_the_source_runs_when_asked_for_without_a_warning() -> None:
    code = (
        "import trading_bot.engine.kernel as k, trading_bot.compiled as c;"
        "print(k.__file__.endswith('.py'), c.running_compiled())"
    )
    assert run_python(code, **{PURE_PYTHON_ENV: "1"}) == "True False"
    assert run_python(code, **{PURE_PYTHON_ENV: "0"}) == "False True"


@needs_compiled
def test_compiled_and_interpreted_backtests_agree(tmp_path: Path) -> None:
    summaries = []
    for pure in ("0", "1"):
        out = tmp_path / f"summary-{pure}.json"
        subprocess.run(
            [
                sys.executable, "-m", "trading_bot", "backtest",
                "--config", "examples/full.yaml",
                "--data", "BTC/USD=examples/data/BTC-USD_1m_2022-01-01.csv",
                "--signals", "examples/signals.jsonl",
                "--json", str(out), "--no-progress",
            ],
            env={**os.environ, PURE_PYTHON_ENV: pure},
            capture_output=True,
            check=True,
            cwd=ROOT,
        )  # fmt: skip
        summaries.append(json.loads(out.read_text()))
    assert summaries[0]["fills"] > 0
    assert summaries[0] == summaries[1]


@needs_compiled
def test_tests_that_patch_compiled_classes_pass_on_the_interpreted_source() -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-cov",
            "tests/venues/simulated/test_fast_path.py",
        ],
        env={**os.environ, PURE_PYTHON_ENV: "1"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def written_init(cls: type) -> list[tuple[str, object]]:
    """(name, default) of each parameter of `cls.__init__` as its source writes it (a compiled
    `__init__` has no signature to inspect); `MISSING` where there is no default."""
    module = sys.modules[cls.__module__]
    tree = ast.parse(Path(source_path(ROOT / "src" / "trading_bot", cls.__module__)).read_text())
    (init,) = [
        node
        for klass in tree.body
        if isinstance(klass, ast.ClassDef) and klass.name == cls.__name__
        for node in klass.body
        if isinstance(node, ast.FunctionDef) and node.name == "__init__"
    ]
    names = [arg.arg for arg in init.args.args[1:]]
    defaults = [eval(ast.unparse(d), vars(module)) for d in init.args.defaults]
    padded = [dataclasses.MISSING] * (len(names) - len(defaults)) + defaults
    return list(zip(names, padded, strict=True))


@pytest.mark.parametrize("cls", [Order, VenueOrder, SignalRecord, Fill, Lot])
def test_written_out_inits_take_every_field_in_order_with_its_default(cls: type) -> None:
    """These dataclasses write their `__init__` out (compiled, it is far cheaper than the
    generated one): it must stay what `dataclass` would generate, field for field."""
    fields = dataclasses.fields(cls)
    parameters = written_init(cls)
    assert [name for name, _ in parameters] == [f.name for f in fields]
    for (_, default), field in zip(parameters, fields, strict=True):
        if field.default is not dataclasses.MISSING:
            assert default == field.default, field.name
        elif field.default_factory is not dataclasses.MISSING:
            assert default is None, field.name  # None stands for a fresh one
        else:
            assert default is dataclasses.MISSING, field.name


def test_every_built_in_class_a_config_names_may_be_subclassed_in_plain_python() -> None:
    """`class:` may name one's own subclass of a built-in module; a compiled class refuses
    plain-Python subclasses unless it allows them."""
    from trading_bot.config.registry import BUILTINS

    compiled = set(COMPILED_MODULES)
    targets = [
        target
        for names in BUILTINS.values()
        for target in names.values()
        if isinstance(target, str) and target.rpartition(".")[0] in compiled
    ]
    assert targets  # the simulated exchange and the market execution at least
    for target in targets:
        module, _, name = target.rpartition(".")
        built_in = getattr(importlib.import_module(module), name)
        own = type(f"Own{name}", (built_in,), {})
        assert isinstance(own(), built_in), target
