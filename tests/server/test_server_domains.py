"""The server's `domain` fields read a domain as the library does: a built-in domain in any case, a name of one's
own as given, a misspelt built-in domain refused naming the one meant."""

from __future__ import annotations

from .conftest import Api
from .test_server_openai import chat, error_of, ok, status_of

MISSPELT = (
    "domain 'writting' looks like 'writing' misspelt: write 'writing' (the built-in domains are coding, math, "
    "science, writing, analysis, general; a domain of your own must not be one typo away from one of them)"
)


def test_a_threads_domain_is_read_as_the_library_reads_it(api: Api) -> None:
    sid = api.session()["_id"]
    assert api.thread(sid, domain="CODING")["domain"] == "coding"
    assert api.thread(sid, domain=" Math ")["domain"] == "math"
    assert api.thread(sid, domain="facts")["domain"] == "facts"


def test_a_misspelt_thread_domain_answers_422_naming_the_one_meant(api: Api) -> None:
    sid = api.session()["_id"]
    body = {"session_id": sid, "original_prompt": "x", "domain": "writting"}
    r = api.client.post("/api/threads/", json=body, headers=api.alice)
    assert r.status_code == 422
    assert r.json()["detail"] == f"domain: {MISSPELT}"
    assert api.client.get(f"/api/threads/session/{sid}", headers=api.alice).json() == []


def test_a_completions_domain_is_read_the_same_way(api: Api) -> None:
    extra = ok(chat(api, domain="CODING", max_iterations=1)).model_extra
    assert status_of(api, extra["orchestratex"]["orchestration_id"])["domain"] == "coding"  # type: ignore[index]
    assert error_of(chat(api, domain="writting"), 400)["message"] == f"domain: {MISSPELT}"  # (as every /v1 field)
