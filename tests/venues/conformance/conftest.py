"""Fixtures of the venue conformance suite: every test runs once per venue implementation.

HARNESSES is the list of implementations under test. To hold a new venue to the suite, write
its `VenueHarness` (see harness.py) and add the class here; a harness that needs something
absent (a server, a network port) should skip in `open` with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.venues.conformance.ccxt_server import CCXTServerHarness
from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.in_process import PaperHarness, SimulatedHarness
from tests.venues.conformance.scenario import MarketScenario

HARNESSES: list[type[VenueHarness]] = [
    SimulatedHarness,
    PaperHarness,
    CCXTServerHarness,
]

OpenVenue = Callable[[MarketScenario], Awaitable[VenueHarness]]


@pytest.fixture(params=HARNESSES, ids=lambda cls: cls.name)
def harness_class(request: pytest.FixtureRequest) -> type[VenueHarness]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def open_venue(harness_class: type[VenueHarness], tmp_path: Path) -> AsyncIterator[OpenVenue]:
    """Opens the venue under test on a given scenario (closed after the test)."""
    opened: list[VenueHarness] = []

    async def open_(scenario: MarketScenario) -> VenueHarness:
        workdir = tmp_path / f"venue-{len(opened)}"
        workdir.mkdir()
        harness = await harness_class.open(scenario, workdir)
        opened.append(harness)
        return harness

    yield open_
    for harness in opened:
        await harness.close()
    for harness in opened:
        problems = harness.reports.problems()
        assert not problems, f"{harness.name}: {problems}\n{harness.reports.describe()}"


@pytest.fixture
async def harness(open_venue: OpenVenue) -> VenueHarness:
    """The venue under test on the standard scenario."""
    return await open_venue(MarketScenario())
