"""`orchestratex runs show`: a prompt, a context or a conversation's message of several lines stays under its label."""

from __future__ import annotations

import asyncio
import json

from .conftest import run_cli

DIFF = "Review this diff:\n\n--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\ndomain:   math\n-x = 1\n+x = 2"
"""A multi-line prompt, as `git diff | orchestratex run -` stores it; a line of it reads as a field of `runs show`."""


def test_a_prompt_and_context_of_several_lines_are_indented_under_their_label(store_url: str) -> None:
    """Their lines after the first were written at the left margin, where they read as fields of their own (a diff's
    `domain:   math` line above the run's `domain:` line), and a long prompt hid where the header went on."""
    done = run_cli(
        "run", "-", "--context", "line one\nline two", "--domain", "general", "--max-iterations", "1", "--json",
        "--store", store_url,
        input=DIFF,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    oid = json.loads(done.stdout)["_id"]
    shown = run_cli("runs", "show", oid, "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1:12] == [
        "prompt:   Review this diff:",
        "",
        "          --- a/app.py",
        "          +++ b/app.py",
        "          @@ -1 +1 @@",
        "          domain:   math",
        "          -x = 1",
        "          +x = 2",
        "context:  line one",
        "          line two",
        shown.stdout.splitlines()[11],
    ]
    assert shown.stdout.splitlines()[11].startswith("domain:   general · user ")
    # `--json` keeps the text as it is
    stored = json.loads(run_cli("runs", "show", oid, "--json", "--store", store_url).stdout)
    assert stored["prompt"] == DIFF and stored["context"] == "line one\nline two"


def test_a_conversation_message_of_several_lines_is_indented_under_its_text(store_url: str) -> None:
    from orchestratex import Orchestrator
    from orchestratex.stores import open_store

    conversation = [
        {"role": "system", "content": "Be terse.\nAnswer in French."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4.\n\nprompt:   not this"},
        {"role": "user", "content": "And times 3?"},
    ]

    async def run() -> str:
        store = await open_store(store_url)
        try:
            orchestrator = Orchestrator(simulate=True, store=store)
            result = await orchestrator.run(conversation, max_iterations=1)
            await orchestrator.aclose()
            return result.id
        finally:
            await store.close()

    shown = run_cli("runs", "show", asyncio.run(run()), "--store", store_url)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1:9] == [
        "conversation: 3 messages before the prompt",
        "   system:    Be terse.",
        "              Answer in French.",
        "   user:      What is 2+2?",
        "   assistant: 4.",
        "",
        "              prompt:   not this",
        "prompt:   And times 3?",
    ]
