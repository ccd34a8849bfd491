import asyncio
import json
from pathlib import Path

from tests.intake.rig import eventually, live_bot
from trading_bot.intake.file_source import FileParams, SignalFileSource


def _line(i: int, **extra: object) -> str:
    payload = {"signal_id": f"f{i}", "asset": "BTC/USDT", "side": "buy", "size": "0.01"}
    payload.update(extra)
    return json.dumps(payload) + "\n"


async def test_followed_file_signals_are_recorded_once_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text("".join(_line(i) for i in range(5)) + "not json\n", encoding="utf-8")
    params = FileParams(path=str(path), poll_interval_s=0.05, source="det")
    async with live_bot(tmp_path) as rig, rig.serving(SignalFileSource(params, "file")):
        await eventually(lambda: len(rig.signals()) == 5 and len(rig.dead_letters()) == 1)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(_line(5))
    async with live_bot(tmp_path) as rig, rig.serving(SignalFileSource(params, "file")):
        await eventually(lambda: len(rig.signals()) == 6)
        await asyncio.sleep(0.2)
        assert rig.duplicates() == 0
        assert len(rig.dead_letters()) == 1
        assert sorted(rig.orders_at_venue()) == sorted(set(rig.orders_at_venue()))
        assert len(rig.orders_at_venue()) == 6
    assert {key[0] for key in rig.signals()} == {"det"}
    assert rig.dead_letters()[0]["location"] == "file:line 6"
