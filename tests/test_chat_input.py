"""`Orchestrator.run` with a conversation: sent as messages, kept by refinements, judges and threads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestratex import BayesianRouter, GenerationRequest, Message, Orchestrator, UserError
from orchestratex.exceptions import ProviderHTTPError
from orchestratex.orchestrator._chat import check_text, mended

from .helpers import NO_WAIT, answer_attempt, catalog, score_of_answer, scripted


def recording(scores: dict[int, float], seen: list[GenerationRequest]) -> tuple[Orchestrator, list[GenerationRequest]]:
    def answers(request: GenerationRequest) -> str:
        seen.append(request)
        return answer_attempt(request)

    def judge(request: GenerationRequest) -> float:
        seen.append(request)
        return score_of_answer(scores)(request)

    orch = Orchestrator(
        providers=[scripted(answers, judge)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )
    return orch, seen


CONVERSATION: list[Any] = [
    {"role": "system", "content": "You answer like a pirate."},
    {"role": "user", "content": "What is 2 + 2?"},
    Message(role="assistant", content="Arr, 4."),
    {"role": "user", "content": [{"type": "text", "text": "And times 3?"}]},
]


async def test_a_conversation_is_sent_as_messages_and_kept_by_refinements_and_judges() -> None:
    orch, seen = recording({1: 6.0, 2: 9.0}, [])
    result = await orch.run(CONVERSATION, evaluation_threshold=8)
    assert result.iterations == 2
    assert result.orchestration.prompt == "And times 3?"
    assert [m.role for m in result.orchestration.messages] == ["system", "user", "assistant", "user"]
    generations = [r for r in seen if r.purpose == "generate"]
    first, refinement = generations
    # the user's system message replaces the orchestrator's; the turns are messages, not one flattened prompt
    assert [(m.role, m.content) for m in first.messages] == [
        ("system", "You answer like a pirate."),
        ("user", "What is 2 + 2?"),
        ("assistant", "Arr, 4."),
        ("user", "And times 3?"),
    ]
    assert refinement.messages[:3] == first.messages[:3]
    assert refinement.messages[-1].content.startswith("And times 3?")
    assert "Previous answer" in refinement.messages[-1].content
    judge = next(r for r in seen if r.purpose == "judge")
    assert "CONVERSATION SO FAR" in judge.messages[-1].content
    assert "Arr, 4." in judge.messages[-1].content and "You answer like a pirate." in judge.messages[-1].content


async def test_a_string_prompt_keeps_the_orchestrators_system_prompt_and_stores_no_messages() -> None:
    orch, seen = recording({1: 9.0}, [])
    result = await orch.run("Hello")
    assert result.orchestration.messages == []
    assert [m.role for m in seen[0].messages] == ["system", "user"]
    assert seen[0].messages[0].content == orch.system_prompt


async def test_a_thread_keeps_its_history() -> None:
    orch, seen = recording({1: 9.0}, [])
    first = await orch.run([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Name a colour."}])
    second = await orch.run("And another one?", thread=first.orchestration.thread_id)
    assert second.orchestration.thread_id == first.orchestration.thread_id
    assert [(m.role, m.content) for m in second.orchestration.messages] == [
        ("system", "Be terse."),
        ("user", "Name a colour."),
        ("assistant", first.final_response),
        ("user", "And another one?"),
    ]
    sent = [r for r in seen if r.purpose == "generate"][-1]
    assert [m.role for m in sent.messages] == ["system", "user", "assistant", "user"]
    # a list with earlier turns is the whole conversation: the thread's history is not added again
    third = await orch.run(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ],
        thread=first.orchestration.thread_id,
    )
    assert [m.content for m in third.orchestration.messages] == ["Hi", "Hello", "Bye"]


async def test_a_thread_continues_from_the_answer_as_delivered_cut_at_its_stop_sequences() -> None:
    orch, seen = recording({1: 9.0}, [])
    doc = await orch.prepare("Name a colour.", stop_sequences=[", attempt", "never there"])
    first = await orch.drive(doc)
    assert first.final_response is not None and ", attempt" in first.final_response  # kept whole, as judged
    assert first.orchestration.settings.stop_sequences == (", attempt", "never there")
    second = await orch.run("And another one?", thread=first.orchestration.thread_id)
    delivered = first.final_response[: first.final_response.index(", attempt")]
    assert [(m.role, m.content) for m in second.orchestration.messages] == [
        ("user", "Name a colour."),
        ("assistant", delivered),
        ("user", "And another one?"),
    ]
    assert [r for r in seen if r.purpose == "generate"][-1].messages[-2].content == delivered


@pytest.mark.parametrize(
    ("stops", "message"),
    [
        (
            ["a"] * 5,
            r"^stop_sequences: at most 4 items, not 5$",
        ),  # (was pydantic's "Tuple should have ... after validation")
        (["x", ""], r"^stop_sequences\[1\]: .*at least 1 character"),  # (was "stop_sequences.1")
    ],
)
async def test_bad_stop_sequences_are_user_errors(stops: list[str], message: str) -> None:
    orch, _ = recording({1: 9.0}, [])
    with pytest.raises(UserError, match=message):
        await orch.prepare("Name a colour.", stop_sequences=stops)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ([], "message list is empty"),
        ([{"role": "assistant", "content": "hi"}], "must end with the user message"),
        ([{"role": "user", "content": "  "}], "last user message is empty"),
        # invisible characters only (a zero-width space, a byte order mark): `str.strip` keeps them, and a call was paid
        ([{"role": "user", "content": "\u200b\ufeff"}], "last user message is empty"),
        ("\u200b \u2060", "^the prompt is empty"),
        # characters of other categories that show as nothing: a Hangul filler, the blank braille pattern, a C1
        # control; and ASCII control characters (a NUL, an escape), which `str.strip` keeps as well
        ("\u3164\u2800 \x9b", "^the prompt is empty"),
        ([{"role": "user", "content": "\u2800\u2800"}], "last user message is empty"),
        ("\x00\x1b \x7f", "^the prompt is empty"),
        ([{"role": "tool", "content": "x"}, {"role": "user", "content": "x"}], "tool messages are not supported"),
        ([{"role": "wizard", "content": "x"}], r"messages\[0\]: role must be one of"),
        # a role that is no string (a list, a dict: JSON decoded by hand) failed with "TypeError: unhashable type"
        ([{"role": ["user"], "content": "x"}], r"messages\[0\]: role must be one of .*; got \['user'\]$"),
        ([{"role": {"name": "user"}, "content": "x"}], r"messages\[0\]: role must be one of .*; got \{'name'"),
        ([{"role": "user"}], r"messages\[0\] has no content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "only text content"),
        # "not a 'input_text' part", "not a 'input_audio' part"
        ([{"role": "user", "content": [{"type": "input_text", "text": "x"}]}], r"not an 'input_text' part$"),
        ([{"role": "user", "content": [{"type": "file", "file": {}}]}], r"not a 'file' part$"),
        ([{"role": "user", "content": [{"type": "text"}]}], r"messages\[0\]: a text part has no 'text'"),
        ([{"role": "user", "content": [{"type": "text", "text": 5}]}], "'text' must be a string, not int 5"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}], "is an assistant message"),
        (["just a string in a list"], r"messages\[0\] must be a Message or a mapping"),
        (42, "must be a string or a list of messages"),
    ],
)
async def test_bad_messages_are_clear_user_errors(prompt: Any, message: str) -> None:
    orch, seen = recording({1: 9.0}, [])
    with pytest.raises(UserError, match=message):
        await orch.run(prompt)
    assert seen == []


def strict(seen: list[GenerationRequest]) -> Orchestrator:
    """An orchestrator whose provider refuses a message without text, as Anthropic's and Gemini's APIs do (400)."""

    def refuse_blank(request: GenerationRequest) -> None:
        seen.append(request)
        blank = [i for i, m in enumerate(request.messages) if not m.content.strip()]
        if blank:
            raise ProviderHTTPError(
                f"messages.{blank[0]}: text content blocks must contain non-whitespace text", status_code=400
            )

    def answers(request: GenerationRequest) -> str:
        refuse_blank(request)
        return answer_attempt(request)

    def judge(request: GenerationRequest) -> float:
        refuse_blank(request)
        return 9.0

    return Orchestrator(
        providers=[scripted(answers, judge)],
        catalog=catalog("a", "b"),
        retry=NO_WAIT,
        router=BayesianRouter(explore=False),
    )


async def test_earlier_messages_without_text_are_left_out_for_every_provider() -> None:
    seen: list[GenerationRequest] = []
    orch = strict(seen)
    result = await orch.run(
        [
            {"role": "system", "content": ""},
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": " \n"},  # (an OpenAI client sends back the empty answer it got)
            {"role": "user", "content": []},
            Message(role="assistant", content=""),
            {"role": "user", "content": "\u200b"},  # (a zero-width space alone: no text either)
            {"role": "assistant", "content": None},  # (as OpenAI's API may give an answer: it was "has no content")
            {"role": "user", "content": "And times 3?"},
        ]
    )
    assert result.status == "completed", result.orchestration.error
    assert [(m.role, m.content) for m in result.orchestration.messages] == [
        ("user", "What is 2 + 2?"),
        ("user", "And times 3?"),
    ]
    assert {r.purpose for r in seen} == {"generate", "judge"}
    assert seen[0].messages[0].content == orch.system_prompt  # an empty system message is no system message
    # with its blank turns only, the conversation is a lone prompt
    lone = await orch.run([{"role": "assistant", "content": ""}, {"role": "user", "content": "Hi"}])
    assert lone.status == "completed" and lone.orchestration.messages == []


async def test_a_thread_whose_answer_as_delivered_is_empty_continues_without_it() -> None:
    seen: list[GenerationRequest] = []
    orch = strict(seen)
    first = await orch.run("Name a colour.", stop_sequences=["answer by"])  # every answer begins with it
    assert first.final_response is not None and first.final_response.startswith("answer by")
    thread = first.orchestration.thread_id
    second = await orch.run("And another one?", thread=thread)
    assert second.status == "completed", second.orchestration.error
    assert [m.content for m in second.orchestration.messages] == ["Name a colour.", "And another one?"]
    # the whole conversation an OpenAI client sends back (its empty answer in it) is still the whole conversation
    third = await orch.run(
        [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "Another?"},
        ],
        thread=thread,
    )
    assert third.status == "completed"
    assert [m.content for m in third.orchestration.messages] == ["Name a colour.", "Another?"]


# A JSON string may hold half of a surrogate pair (`"\\ud800"`), which `json.loads` turns into a str that is no
# Unicode text: no store, provider or JSON encoder can take it. Before, the run started (its session stored) and
# failed deep inside with a logged traceback and a `PydanticSerializationError`, the orchestration left `running`.
LONE = "\ud800"


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        (f"Say {LONE}hi", {}, r"the prompt holds a lone surrogate \('\\ud800' at character 4\)"),
        ([{"role": "user", "content": f"x{LONE}"}], {}, r"messages\[0\]'s content holds a lone surrogate"),
        ([Message(role="system", content=LONE), "placeholder"], {}, r"messages\[0\]'s content holds a lone"),
        ("Say hi", {"context": f"c{LONE}"}, "context holds a lone surrogate"),
        ("Say hi", {"domain": f"cod{LONE}"}, "domain holds a lone surrogate"),
        ("Say hi", {"stop_sequences": ["END", LONE]}, r"stop_sequences\[1\] holds a lone surrogate"),
        ("Say hi", {"user_id": f"u{LONE}"}, "user_id holds a lone surrogate"),
    ],
)
async def test_text_with_a_lone_surrogate_is_refused_before_anything_is_stored(
    prompt: Any, options: dict[str, Any], message: str
) -> None:
    orch, seen = recording({1: 9.0}, [])
    if isinstance(prompt, list) and prompt[-1] == "placeholder":
        prompt = [prompt[0], {"role": "user", "content": "hi"}]
    async with orch:
        with pytest.raises(UserError, match=message):
            await orch.run(prompt, **options)
        assert seen == []
        assert await orch.store.list_sessions(options.get("user_id", "local")) == []


# Texts of every width CPython stores (Latin-1, the BMP, astral planes) with surrogates among them.
TEXTS = st.lists(
    st.sampled_from(["a", "é", "ÿ", "这", "\u2028", "😀", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00"]),
    max_size=12,
).map("".join) | st.text(max_size=40)


@given(TEXTS)
def test_the_surrogate_check_refuses_what_utf8_refuses_at_the_same_character(text: str) -> None:
    """`check_text` finds a surrogate without converting the text to UTF-8 (UTF-32's conversion, a copy of each
    character, is 7 to 28 times faster for a long prompt that is not ASCII): it refuses exactly the texts UTF-8 cannot
    encode, naming the same character, and `mended` replaces exactly those."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        with pytest.raises(UserError, match=re.escape(f"({text[exc.start]!r} at character {exc.start})")):
            check_text("the prompt", text)
        assert mended(text) == text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    else:
        assert check_text("the prompt", text) is text
        assert mended(text) is text


async def test_sessions_and_threads_refuse_a_lone_surrogate_too() -> None:
    orch, _ = recording({1: 9.0}, [])
    async with orch:
        with pytest.raises(UserError, match="user_id holds a lone surrogate"):
            await orch.create_session(f"u{LONE}")
        session = await orch.create_session("u")
        with pytest.raises(UserError, match="prompt holds a lone surrogate"):
            await orch.create_thread(session.id, f"q{LONE}")
        with pytest.raises(UserError, match="context holds a lone surrogate"):
            await orch.create_thread(session.id, "q", context=LONE)


async def test_an_answer_with_a_lone_surrogate_is_mended_not_a_crash() -> None:
    """A provider's answer or verdict holding a lone surrogate (a model's broken emoji, decoded from a JSON escape)
    ended the run with a traceback and left it `running` in the store; it is now kept with U+FFFD in its place (a
    surrogate pair left as two code points becomes its character)."""

    def answers(request: GenerationRequest) -> str:
        return "smile \ud83d\ude00 and a broken \udc80 one"

    def fn(request: GenerationRequest) -> str:
        if request.purpose == "judge":
            return '{"score": 9, "feedback": "fine \ud800"}'
        return answers(request)

    from orchestratex import FunctionProvider

    orch = Orchestrator(providers=[FunctionProvider(fn)], catalog=catalog("a", "b"), retry=NO_WAIT)
    async with orch:
        result = await orch.run("Smile.", max_iterations=1)
        assert result.status == "completed"
        assert result.final_response == "smile \U0001f600 and a broken \ufffd one"
        stored = await orch.store.get_orchestration(result.id)
        assert stored.status == "completed" and stored.final_response == result.final_response
        evaluation = stored.iterations[0].evaluation
        assert evaluation is not None and evaluation.feedback == "fine \ufffd"


@pytest.mark.parametrize("blank", ["", "  \n"])
async def test_a_blank_system_prompt_sends_no_system_message(blank: str) -> None:
    # `Orchestrator(system_prompt="")` (no system prompt) sent a system message of no text: Gemini's adapter turned it
    # into an empty `system_instruction` part, which its API refuses, so every Gemini call failed with a 400.
    from orchestratex_gemini._mapping import generate_content_args

    orch, seen = recording({1: 9.0}, [])
    orch.system_prompt = blank
    result = await orch.run("Hello")
    assert result.status == "completed"
    answer = next(r for r in seen if r.purpose == "generate")
    assert [m.role for m in answer.messages] == ["user"]
    assert generate_content_args(answer)["config"].system_instruction is None
    explicit = Orchestrator(providers=orch.providers, catalog=orch.catalog, system_prompt=blank)
    assert (await explicit.run("Hello", max_iterations=1)).status == "completed"
    assert [m.role for m in seen[-2].messages] == ["user"]


async def test_roles_of_a_str_enum_are_read_as_their_text() -> None:
    # `class Role(str, Enum)` (a role type of one's own, as an application may keep its chat history) failed the run
    # with a bare `KeyError: 'Role.SYSTEM'`: the role was looked up by `str(role)`, which is the member's name
    from enum import Enum

    class Role(str, Enum):  # noqa: UP042 (the mixin users write; StrEnum worked)
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    orch, _ = recording({1: 9.0}, [])
    result = await orch.run(
        [
            {"role": Role.SYSTEM, "content": "Be brief."},
            {"role": Role.USER, "content": "Name a colour."},
            {"role": Role.ASSISTANT, "content": "Red."},
            {"role": Role.USER, "content": "Another?"},
        ]
    )
    assert result.status == "completed", result.error
    assert [(m.role, type(m.role)) for m in result.orchestration.messages] == [
        ("system", str),
        ("user", str),
        ("assistant", str),
        ("user", str),
    ]


async def test_an_openai_sdk_message_object_is_read_as_its_role_and_content() -> None:
    # `history.append(completion.choices[0].message)`, as OpenAI's SDK takes its answers back into the conversation,
    # was refused: "messages[2] must be a Message or a mapping with 'role' and 'content', not ChatCompletionMessage"
    chat = pytest.importorskip("openai.types.chat")
    answered = chat.ChatCompletionMessage(role="assistant", content="Arr, 4.")
    orch, seen = recording({1: 9.0}, [])
    history: list[Any] = [*CONVERSATION[:2], answered, CONVERSATION[3]]
    result = await orch.run(history)
    assert result.status == "completed", result.error
    first = next(r for r in seen if r.purpose == "generate")
    assert [(m.role, m.content) for m in first.messages] == [
        ("system", "You answer like a pirate."),
        ("user", "What is 2 + 2?"),
        ("assistant", "Arr, 4."),
        ("user", "And times 3?"),
    ]
    # one without text (an answer that called a tool) says nothing and is left out, as such a mapping is
    tool_call = chat.ChatCompletionMessage(role="assistant", content=None)
    result = await orch.run([*CONVERSATION[:2], tool_call, CONVERSATION[3]])
    assert [m.role for m in result.orchestration.messages] == ["system", "user", "user"]
    # an object with no role and content is refused as before
    neither: Any = object()
    with pytest.raises(UserError, match=r"^messages\[1\] must be a Message or a mapping with 'role' and 'content', "):
        await orch.run([CONVERSATION[1], neither])


@pytest.mark.parametrize("context", ["   ", "\n", "\u200b", "\ufeff \t"])
async def test_a_context_that_shows_nothing_is_no_context(context: str) -> None:
    # `run(..., context="  ")` (an empty form field sent with a space or a line break) and a thread made with such a
    # context sent the models the prompt with a bare "Context:" label after it, and the judges a "CONTEXT:" section of
    # nothing; the server's API already took it as no context
    orch, seen = recording({1: 9.0}, [])
    result = await orch.run("Name a colour.", context=context, max_iterations=1)
    assert result.status == "completed", result.error
    assert seen and all("Context:" not in m.content and "CONTEXT:" not in m.content for r in seen for m in r.messages)
    session = await orch.create_session("u")
    thread = await orch.create_thread(session, "Name a colour.", context=context)
    seen.clear()
    await orch.run(thread.original_prompt, thread=thread, max_iterations=1)
    assert seen and all("Context:" not in m.content and "CONTEXT:" not in m.content for r in seen for m in r.messages)
    seen.clear()
    await orch.run("Name a colour.", context="for a child", max_iterations=1)  # a context that shows is sent
    assert "Context: for a child" in seen[0].messages[-1].content


@pytest.mark.parametrize("system_prompt", ["\u200b", "\ufeff", " \u2060\n"])
async def test_a_system_prompt_that_shows_nothing_sends_no_system_message(system_prompt: str) -> None:
    # `Orchestrator(system_prompt="\ufeff")` (a prompt file saved empty with a byte order mark) sent a system message
    # of nothing, which Anthropic's and Gemini's APIs refuse, where a blank one sends none
    orch, seen = recording({1: 9.0}, [])
    orch.system_prompt = system_prompt
    assert orch.system_prompt == ""
    result = await orch.run("Name a colour.", max_iterations=1)
    assert result.status == "completed", result.error
    assert seen and all(m.role != "system" for m in seen[0].messages)


def test_an_ascii_text_is_blank_when_it_has_white_space_and_control_characters_alone() -> None:
    """The ASCII check stops at the first visible character: every one of `!` to `~` shows, wherever it stands in a long
    text of line breaks, tabs, NULs and DELs; every other ASCII character does not."""
    from orchestratex.orchestrator._chat import blank

    unseen = "".join(c for c in map(chr, range(128)) if not "!" <= c <= "~")
    assert blank(unseen * 1000)
    for visible in map(chr, range(ord("!"), ord("~") + 1)):
        assert not blank(unseen * 500 + visible + unseen * 500), repr(visible)
