"""The openai SDK's `stream()` helper builds its final completion from the first chunk's fields (only `choices`,
`usage` and `system_fingerprint` follow later chunks): the `orchestratex` field, which only the last chunk carried,
was missing from it, so a client of the helper had no orchestration id to follow."""

from __future__ import annotations

from typing import Any

from openai import OpenAI

from .conftest import Api, in_app_loop
from .test_server_openai import PROMPT as _PROMPT

PROMPT: Any = _PROMPT


def _final(api: Api, model: str, **extra: Any) -> Any:
    client = OpenAI(base_url="http://testserver/v1", api_key=api.keys["alice"], http_client=api.client, max_retries=0)
    with client.chat.completions.stream(model=model, messages=PROMPT, extra_body=extra or None) as helper:
        for _ in helper:
            pass
        return helper.get_final_completion()


def test_the_helper_s_final_completion_names_a_live_answer_s_orchestration(api: Api) -> None:
    final = _final(api, "orchestratex/fast")
    ext = (final.model_extra or {})["orchestratex"]
    doc = in_app_loop(api.client).call(api.store.get_orchestration, ext["orchestration_id"])
    assert final.id == f"chatcmpl-{doc.id}" and doc.status == "completed"
    assert (ext["session_id"], ext["thread_id"], ext["requested_model"]) == (
        doc.session_id,
        doc.thread_id,
        "orchestratex/fast",
    )
    assert final.choices[0].message.content == doc.final_response


def test_the_helper_s_final_completion_has_the_whole_field_of_a_refined_answer(api: Api) -> None:
    """A run that may refine sends its answer once it has ended: its first chunk carries the whole field."""
    final = _final(api, "orchestratex/auto", max_iterations=2)
    ext = (final.model_extra or {})["orchestratex"]
    doc = in_app_loop(api.client).call(api.store.get_orchestration, ext["orchestration_id"])
    assert ext["status"] == "completed" and ext["score"] == doc.final_score and ext["cost"] == doc.total_cost
    assert ext["iterations"] == len(doc.iterations) and final.model == doc.final_model
