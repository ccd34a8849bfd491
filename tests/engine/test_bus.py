from dataclasses import dataclass

import pytest

from trading_bot.engine.bus import EventBus


@dataclass
class Happened:
    name: str


@dataclass
class Other:
    name: str


def test_handlers_get_only_their_event_type_in_subscription_order() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(Happened, lambda e: seen.append(f"1:{e.name}"))
    bus.subscribe(Happened, lambda e: seen.append(f"2:{e.name}"))
    bus.subscribe(Other, lambda e: seen.append(f"other:{e.name}"))
    bus.publish(Happened("x"))
    assert seen == ["1:x", "2:x"]


def test_events_published_during_dispatch_follow_the_current_one() -> None:
    bus = EventBus()
    seen: list[str] = []

    def first(event: Happened) -> None:
        seen.append(f"first:{event.name}")
        if event.name == "a":
            bus.publish(Happened("b"))

    bus.subscribe(Happened, first)
    bus.subscribe(Happened, lambda e: seen.append(f"second:{e.name}"))
    bus.publish(Happened("a"))
    assert seen == ["first:a", "second:a", "first:b", "second:b"]


def test_a_failing_handler_propagates_and_queued_events_are_not_lost() -> None:
    bus = EventBus()
    seen: list[str] = []

    def explode(event: Happened) -> None:
        if event.name == "boom":
            bus.publish(Other("queued"))
            raise RuntimeError("bug")

    bus.subscribe(Happened, explode)
    bus.subscribe(Other, lambda e: seen.append(e.name))
    with pytest.raises(RuntimeError):
        bus.publish(Happened("boom"))
    bus.publish(Other("next"))
    assert seen == ["queued", "next"]
