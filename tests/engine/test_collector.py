import gc

import pytest

from trading_bot.engine.collector import young_collections_only


def test_only_young_passes_run_inside_and_the_thresholds_come_back_even_on_failure() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        young, middle, old = gc.get_threshold()
        assert young == before[0]
        assert middle > 10**6 and old > 10**6  # older generations wait for the end
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), young_collections_only():
        raise RuntimeError("a failing run")
    assert gc.get_threshold() == before
