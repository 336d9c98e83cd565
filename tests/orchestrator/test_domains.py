"""A run's domain: a built-in domain in any case (kept lowercase, so a model's specialty applies), a name of one's
own kept as given (routers learn it apart), or refused when it is a built-in domain misspelt."""

from __future__ import annotations

import pytest

from orchestratex import Orchestrator, SimulatedProvider
from orchestratex.domains import DOMAINS, check_domain
from orchestratex.exceptions import UserError


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("coding", "coding"),
        ("CODING", "coding"),
        (" Math ", "math"),
        (None, None),
        ("facts", "facts"),  # a domain of one's own, e.g. a task of a FittedRouter's table
        (" MMLU ", "MMLU"),  # matched exactly: kept in its case
        ("cooking", "cooking"),
    ],
)
def test_a_domain_is_read_once_for_every_way_of_giving_it(given: str | None, kept: str | None) -> None:
    assert check_domain(given) == kept


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("codeing", "domain 'codeing' looks like 'coding' misspelt: write 'coding' (the built-in domains are coding,"),
        ("Maths", "domain 'Maths' looks like 'math' misspelt: write 'math'"),
        ("sciences", "domain 'sciences' looks like 'science' misspelt"),
        ("  ", "domain is empty: give one (coding, math, science, writing, analysis, general, or a name of your own)"),
        (42, "domain must be a string (one of coding, math, science, writing, analysis, general, or a name of your"),
    ],
)
def test_a_domain_that_cannot_be_one_is_refused_saying_what_to_write(given: object, message: str) -> None:
    with pytest.raises(UserError) as caught:
        check_domain(given)
    assert caught.value.message.startswith(message)
    assert "\n" not in caught.value.message


def test_every_built_in_domain_is_read_in_any_case() -> None:
    assert [check_domain(d.upper()) for d in DOMAINS] == list(DOMAINS)
    assert [check_domain(d.title()) for d in DOMAINS] == list(DOMAINS)


@pytest.fixture
def orchestrator() -> Orchestrator:
    return Orchestrator(providers=[SimulatedProvider(seed=1, latency_scale=0)])


async def test_a_runs_domain_matches_the_specialties_whatever_its_case(orchestrator: Orchestrator) -> None:
    result = await orchestrator.run("Hello", domain="CODING", max_iterations=1)
    assert result.orchestration.domain == "coding"
    assert "best value for coding " in result.orchestration.iterations[0].reasoning
    events = [e for e in result.events if e.type == "orchestration_started"]
    assert [e.domain for e in events] == ["coding"]
    assert {s.domain for s in await orchestrator.store.routing_stats("bayesian")} == {"coding"}


async def test_a_domain_of_ones_own_is_kept_apart(orchestrator: Orchestrator) -> None:
    result = await orchestrator.run("Hello", domain="facts", max_iterations=1)
    assert result.status == "completed" and result.orchestration.domain == "facts"
    assert "best value for facts " in result.orchestration.iterations[0].reasoning


async def test_a_misspelt_domain_is_refused_before_anything_is_stored(orchestrator: Orchestrator) -> None:
    with pytest.raises(UserError, match="domain 'codeing' looks like 'coding' misspelt"):
        await orchestrator.run("Hello", domain="codeing")
    with pytest.raises(UserError, match="write 'writing'"):
        await orchestrator.prepare("Hello", domain="writting")
    assert await orchestrator.store.list_orchestrations() == []


async def test_a_threads_domain_is_read_the_same_way(orchestrator: Orchestrator) -> None:
    session = await orchestrator.create_session()
    thread = await orchestrator.create_thread(session.id, "Prove it", domain="Math")
    assert thread.domain == "math"
    with pytest.raises(UserError, match="write 'science'"):
        await orchestrator.create_thread(session.id, "Explain it", domain="sciense")
    assert [t.domain for t in await orchestrator.store.list_threads(session.id)] == ["math"]
    result = await orchestrator.run("Prove it", thread=thread, max_iterations=1)
    assert result.orchestration.domain == "math"
