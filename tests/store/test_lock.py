import pytest

from trading_bot.store.database import StoreError, open_engine, upgrade_to_head
from trading_bot.store.lock import lock_store


def test_a_second_bot_on_the_same_store_is_refused_until_the_first_lets_go(
    store_url: str,
) -> None:
    engine = open_engine(store_url)
    upgrade_to_head(engine)
    first = lock_store(engine)
    with pytest.raises(StoreError, match="another trading-bot is already running"):
        lock_store(open_engine(store_url))
    first.release()
    lock_store(open_engine(store_url)).release()
    engine.dispose()


def test_store_urls_that_cannot_work_are_refused_without_showing_the_password() -> None:
    for url, expected in [
        ("postgresql://bot:s3cr3t@127.0.0.1:notaport/db", "is not a database URL"),
        ("postgresql:/bot:s3cr3t@127.0.0.1/db", "is not a database URL"),
        ("sqlite://", "in-memory SQLite store keeps nothing"),
        ("sqlite:////proc/no/such/dir/x.sqlite", "cannot create /proc/no/such/dir"),
    ]:
        with pytest.raises(StoreError, match=expected) as error:
            open_engine(url)
        assert "s3cr3t" not in str(error.value)
