"""A judge's call whose verdict cannot be read (no score, a blank answer) in the server's metrics and its `model_call`
log line: a failed call, as an empty answer's, not an answered one."""

from __future__ import annotations

import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestratex import GenerationRequest

from .test_server_metrics_billed import panel_reply


@pytest.mark.parametrize("said", ["I liked it a lot, well done.", "  \n"], ids=["no-score", "blank"])
def test_a_judge_whose_verdict_cannot_be_read_counts_as_a_failed_call(
    said: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: its call counted `outcome="ok"` (and its log line said so, at INFO), though it gave no verdict and the
    # run set the judge aside; an alert on a judge's failed calls never saw it
    def answer(request: GenerationRequest) -> str:
        if request.purpose != "judge":
            return "7"
        return said if request.model.name == "function:mumbler" else '{"score": 9, "feedback": "fine"}'

    caplog.set_level(logging.INFO, logger="orchestratex.providers")
    reply, metrics = panel_reply(answer, "mumbler")
    assert reply.status_code == 200, reply.text
    calls = {
        (s.labels["model"], s.labels["role"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "orchestratex_model_calls_total"
    }
    assert calls[("function:mumbler", "judge", "error")] == 1
    assert calls.get(("function:mumbler", "judge", "ok"), 0) == 0
    assert calls[("function:judge", "judge", "ok")] == 1 and calls[("function:writer", "generate", "ok")] == 1
    (line,) = [r for r in caplog.records if getattr(r, "model", None) == "function:mumbler"]
    assert line.levelno == logging.WARNING and getattr(line, "outcome", None) == "error"
    assert getattr(line, "error_type", None) == "EvaluationError"
    assert "no score found in the judge's answer" in str(getattr(line, "error", ""))
