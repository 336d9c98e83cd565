"""What a judge writes, read through a run: a score on another scale is converted, a score that is not one is
the judge's failure (never a silently wrong score)."""

from __future__ import annotations

import json

import pytest

from orchestratex import FunctionProvider, GenerationRequest, LLMJudgeEvaluator, Orchestrator

from ..helpers import NO_WAIT, catalog


def judged_by(verdict: str) -> Orchestrator:
    def answer(request: GenerationRequest) -> str:
        return verdict if request.purpose == "judge" else "an answer"

    return Orchestrator(
        providers=[FunctionProvider(answer)],
        catalog=catalog("a", "b"),
        evaluator=LLMJudgeEvaluator(),
        retry=NO_WAIT,
    )


@pytest.mark.parametrize(
    ("score", "read"),
    [("4/5", 8.0), ("8,5", 8.5), ("85%", 8.5), ("8.5 out of 10", 8.5), ("3/4", 7.5)],
)
async def test_a_judges_score_is_read_on_the_scale_it_says(score: str, read: float) -> None:
    result = await judged_by(json.dumps({"score": score, "feedback": "fine"})).run("Hello", max_iterations=1)
    assert result.status == "completed"
    assert result.final_score == read
    (verdict,) = result.orchestration.iterations[0].evaluation.verdicts  # type: ignore[union-attr]
    assert verdict.score == read and verdict.error is None


@pytest.mark.parametrize(
    ("score", "error"),
    [
        ("4 out of 5 stars", "judge score '4 out of 5 stars' is not a number from 0 to 10"),
        ("1,000", "judge score '1,000' is ambiguous"),
        ("-2", "judge score '-2' is outside 0–10"),
        (True, "judge score true is not a number from 0 to 10"),
    ],
)
async def test_a_score_that_is_not_one_fails_the_verdict(score: object, error: str) -> None:
    result = await judged_by(json.dumps({"score": score, "feedback": "fine"})).run("Hello", max_iterations=1)
    assert result.status == "failed" and result.orchestration.stop_reason == "error"
    assert result.final_score is None
    it = result.orchestration.iterations[0]
    assert it.evaluation is None and it.phase == "failed"
    assert error in (result.orchestration.error or "") and any(error in e for e in it.errors)


@pytest.mark.parametrize("failure", ["garbage", "timeout"])
async def test_a_failed_panel_is_replaced_once_by_the_next_judge(failure: str) -> None:
    """The only judge of the panel failing (an unparseable verdict, a timeout) failed the run although another
    model could judge the answer already paid for; the next judge is now asked, and the events, the iteration and
    the store agree on what both verdicts cost."""
    from orchestratex import MemoryStore
    from orchestratex.exceptions import ProviderTimeout

    calls: list[tuple[str, str]] = []
    bad = "function:b"

    def fn(request: GenerationRequest) -> str:
        calls.append((request.purpose, request.model.name))
        if request.purpose != "judge":
            return "an answer"
        if request.model.name == bad:
            if failure == "timeout":
                raise ProviderTimeout("too slow", model=bad)
            return "I liked it!"
        return json.dumps({"score": 9, "feedback": "fine"})

    events: list[object] = []
    store = MemoryStore()
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=catalog("a", "b", "c", quality={"a": 6.0, "b": 9.0, "c": 8.0}),
        retry=NO_WAIT,
        store=store,
        on_event=events.append,
    )
    result = await orch.run("Hello", max_iterations=1, preferred_models=["function:a"])
    assert result.status == "completed" and result.final_score == 9
    evaluation = result.orchestration.iterations[0].evaluation
    assert evaluation is not None
    assert [(v.judge_model, v.score) for v in evaluation.verdicts] == [(bad, None), ("function:c", 9.0)]
    assert evaluation.judge_models == ["function:c"]
    assert [c for c in calls if c[0] == "judge"][-1] == ("judge", "function:c")
    (judged,) = [e for e in events if getattr(e, "type", None) == "evaluation_completed"]
    assert judged.cost == evaluation.cost  # type: ignore[attr-defined]
    stored = await store.get_session(result.orchestration.session_id)
    assert stored.total_cost == result.total_cost and stored.reserved_cost == 0


async def test_a_replacement_panel_failing_too_fails_the_run_naming_every_judge() -> None:
    result = await judged_by("no idea").run("Hello", max_iterations=1)  # (two models: no replacement to ask)
    assert result.status == "failed" and "no judge produced a verdict" in (result.orchestration.error or "")
    orch = Orchestrator(
        providers=[FunctionProvider(lambda r: "no idea" if r.purpose == "judge" else "an answer")],
        catalog=catalog("a", "b", "c", "d"),
        retry=NO_WAIT,
    )
    result = await orch.run("Hello", max_iterations=1, preferred_models=["function:a"])
    assert result.status == "failed"
    verdict_count = (result.orchestration.error or "").count("no score found")
    assert verdict_count == 2  # the panel and one replacement, not every model of the catalog


async def test_feedback_written_as_json_that_does_not_parse_reaches_the_next_attempt_as_its_text() -> None:
    # a judge writing the rubric's object with a trailing comma (or a line break inside its text, single quotes):
    # the score was read, but the feedback was the rest of the object, '"Handle an empty list.",}', stored as the
    # verdict's and sent in the next attempt's prompt
    prompts: list[str] = []

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 4, "feedback": "Handle an empty list.",}'
        prompts.append(request.messages[-1].content)
        return "an answer"

    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b", "c"), retry=NO_WAIT)
    result = await orch.run("Sort a list", max_iterations=2, evaluation_threshold=8)
    first = result.orchestration.iterations[0].evaluation
    assert first is not None and first.score == 4.0
    assert first.feedback == "Handle an empty list." == first.verdicts[0].feedback
    assert "Reviewers' feedback:\nHandle an empty list.\n\nPrevious answer:" in prompts[1]


async def test_feedback_given_as_a_list_of_points_reaches_the_next_attempt_one_per_line() -> None:
    # judges in JSON mode often list their points: the feedback was Python's "['Add tests.', 'Handle None.']"
    prompts: list[str] = []

    def answer(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return json.dumps({"score": 4, "feedback": ["Add tests.", "Handle None."]})
        prompts.append(request.messages[-1].content)
        return "an answer"

    orch = Orchestrator(providers=[FunctionProvider(answer)], catalog=catalog("a", "b", "c"), retry=NO_WAIT)
    result = await orch.run("Sort a list", max_iterations=2, evaluation_threshold=8)
    first = result.orchestration.iterations[0].evaluation
    assert first is not None and first.feedback == "- Add tests.\n- Handle None."
    assert "Reviewers' feedback:\n- Add tests.\n- Handle None.\n\nPrevious answer:" in prompts[1]


async def test_a_judge_whose_verdict_could_not_be_read_is_set_aside_for_the_rest_of_the_run() -> None:
    """A judge writing prose instead of the rubric's JSON was asked (and billed) again for every answer of the run,
    failing each time; it is now set aside after its first such verdict, saying so on the verdict. A verdict cut
    short by its output cap is the cap's failure, not the judge's: that judge is asked again."""
    from orchestratex import Generation, Usage

    asked: list[tuple[str, str]] = []

    def fn(request: GenerationRequest) -> str | Generation:
        asked.append((request.purpose, request.model.name))
        if request.purpose != "judge":
            return "an answer"
        if request.model.name == "function:b":
            return "I liked it!"
        if request.model.name == "function:c" and ("judge", "function:c") not in asked[:-1]:  # cut by its cap, once
            return Generation(text='{"feedb', usage=Usage(input_tokens=90, output_tokens=3), finish_reason="length")
        return json.dumps({"score": 5, "feedback": "more detail"})

    models = catalog("a", "b", "c", "d", "e")
    for cheap in ("function:b", "function:c"):  # (the cheapest panel)
        models.update(cheap, input_cost_per_1k=0.0005, output_cost_per_1k=0.0005)
    orch = Orchestrator(
        providers=[FunctionProvider(fn)],
        catalog=models,
        evaluator=LLMJudgeEvaluator(panel_size=2),
        retry=NO_WAIT,
    )
    result = await orch.run(
        "Hello", max_iterations=3, patience=3, evaluation_threshold=9.5, preferred_models=["function:a"]
    )
    assert result.status == "completed" and len(result.orchestration.iterations) == 3, result.error
    judged = [name for purpose, name in asked if purpose == "judge"]
    assert judged.count("function:b") == 1, judged
    assert judged.count("function:c") == 3, judged  # (cut short once: asked again)
    verdicts = [v for it in result.orchestration.iterations if it.evaluation for v in it.evaluation.verdicts]
    (unread,) = [v for v in verdicts if v.judge_model == "function:b"]
    assert unread.error == (
        "no score found in the judge's answer: 'I liked it!' (set aside as a judge for the rest of the run)"
    )
    assert [v.score for v in verdicts if v.judge_model == "function:c"] == [None, 5.0, 5.0]
    await orch.aclose()


async def test_a_judge_whose_verdicts_its_longest_cap_cuts_short_is_set_aside_too() -> None:
    """A reasoning model judging with all of its 512 tokens spent thinking: every verdict was cut by its cap at the
    most a verdict may write, and billed, for every answer of the run; it is set aside as a judge after the first."""
    from orchestratex import Generation, Usage

    asked: list[tuple[str, str]] = []

    def fn(request: GenerationRequest) -> str | Generation:
        asked.append((request.purpose, request.model.name))
        if request.purpose != "judge":
            return "an answer"
        if request.model.name == "function:b":  # (thinking to its cap: no verdict written)
            cut = Usage(input_tokens=90, output_tokens=request.max_output_tokens)
            return Generation(text="", usage=cut, finish_reason="length")
        return json.dumps({"score": 5, "feedback": "more detail"})

    models = catalog("a", "b", "c")
    models.update("function:b", input_cost_per_1k=0.0005, output_cost_per_1k=0.0005)  # (the cheapest judge)
    orch = Orchestrator(providers=[FunctionProvider(fn)], catalog=models, retry=NO_WAIT)
    result = await orch.run(
        "Hello", max_iterations=3, patience=3, evaluation_threshold=9.5, preferred_models=["function:a"]
    )
    assert result.status == "completed" and len(result.orchestration.iterations) == 3, result.error
    judged = [name for purpose, name in asked if purpose == "judge"]
    assert judged == ["function:b", "function:c", "function:c", "function:c"], judged  # (b once; c as the spare too)
    (cut,) = [
        v for it in result.orchestration.iterations if it.evaluation for v in it.evaluation.verdicts if v.score is None
    ]
    assert (cut.judge_model, cut.usage.output_tokens) == ("function:b", 512)
    assert (cut.error or "").endswith("(set aside as a judge for the rest of the run)")
    await orch.aclose()
