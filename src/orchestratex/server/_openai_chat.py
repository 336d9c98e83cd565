"""From a `/v1/chat/completions` request to a stored `pending` orchestration, under the server's keys and limits.

- The `model` is a preset (`orchestratex/auto`, …: orchestration settings) or a catalog model,
  which then answers alone: `preferred_models=[it]` and, unless the request says otherwise, one
  judged attempt (`max_iterations=1`).
- Settings: the preset's, overridden by the request's (`extra_body` fields or `orchestratex`).
- Conversation: the messages as they are (system, earlier turns, the user message to answer); on a
  `thread_id`, a request without assistant turns continues the thread's conversation, whose last
  answer is the one its client received (`stop` is kept as the orchestration's `stop_sequences`).
- Output: a `max_tokens` / `max_completion_tokens` above the output limit of every model the call may use is
  refused as OpenAI refuses one above its model's limit, 400 `invalid_value` naming the field; within the largest,
  each model writes up to the smaller of it and its own limit.
- Context: a conversation (and the answer it asks for) that fits no model's context window is refused as OpenAI
  refuses it, 400 `context_length_exceeded`, before anything is stored: its run could only fail.
- Storage quota: what the orchestration stores (the conversation, with a thread's earlier turns, and the stop
  sequences) and a new thread's prompt count as `/api/orchestration/start` counts them.
- Session: `session_id` / the session of `thread_id` when given (the caller's, active), else the
  caller's own `/v1` session, created on first use with a stable id; one the user ends is followed
  by a new one. Every call is one orchestration of it (one new thread unless `thread_id` is given),
  visible through `/api/orchestration/status/{id}`, the session's events and the analytics.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import ModelProfile
from ..exceptions import ConfigurationError, Conflict, NotFound, UnknownModelError
from ..orchestrator._chat import blank
from ..orchestrator._prompts import build_messages
from ..orchestrator._window import too_long
from ..providers import Message
from ..providers._base import estimate_message_tokens
from ..records import Orchestration, Session, Thread
from ._access import load_orchestration, load_session, load_thread
from ._app import ServerState
from ._auth import Principal
from ._errors import quoted
from ._idempotency import keyed_id, started_before
from ._openai_cooling import check_cooling
from ._openai_errors import OpenAIError
from ._openai_judge_room import judge_room
from ._openai_presets import Preset
from ._openai_replay import check_same_call
from ._openai_schemas import ChatMessageIn, ChatRequest, ContentPart, OrchestrationOptions
from ._openai_tool_turns import ToolTurns
from ._quota import stored_bytes, text_bytes

logger = logging.getLogger("orchestratex.server")

__all__ = [
    "ChatCall",
    "DefaultSessions",
    "Target",
    "chat_messages",
    "check_output_cap",
    "check_window",
    "prepare_call",
    "resolve_target",
    "unusable",
    "usable_model",
]


@dataclass(frozen=True, slots=True)
class Target:
    """What a request's `model` names: a preset, or one catalog model."""

    requested: str
    preset: Preset
    model: ModelProfile | None = None


def resolve_target(name: str, presets: Mapping[str, Preset], state: ServerState) -> Target:
    """The preset or usable catalog model called `name`, else 404 `model_not_found`."""
    preset = presets.get(name)
    if preset is not None:
        return Target(name, preset)
    fix = f"use a preset ({', '.join(presets)}) or a model of GET /v1/models"
    folded = name.strip().casefold()
    meant = [p for p in presets if p.casefold() == folded]
    if meant:  # (`orchestratex/Fast`, or white space from an env file's line: the catalog's names say so too)
        raise _preset_meant(name, meant[0], fix)
    model = usable_model(name, state, fix)
    if isinstance(model, str):
        short = [p for p in presets if p.casefold().rpartition("/")[2] == folded.rpartition(":")[2]]
        if len(short) == 1 and name not in state.orchestrator.catalog:  # (`fast`, `orchestratex:fast`)
            raise _preset_meant(name, short[0], fix)
        raise OpenAIError(404, model, param="model", code="model_not_found")
    return Target(name, Preset(max_iterations=1), model)


def _preset_meant(name: str, preset: str, fix: str) -> OpenAIError:
    """404 for a `model` that is not a preset's name but says which one was meant."""
    return OpenAIError(
        404,
        f"The model {_shown(name)} does not exist (did you mean `{preset}`? names are matched exactly): {fix}",
        param="model",
        code="model_not_found",
    )


def usable_model(name: str, state: ServerState, fix: str) -> ModelProfile | str:
    """The catalog model called `name` (or an alias) when this server can route to it, else why not (and `fix`)."""
    orchestrator = state.orchestrator
    try:
        model = orchestrator.catalog.get(name)
    except UnknownModelError as exc:  # (a name of any length: a 60 KB one is not echoed whole)
        shown = _shown(name)
        if exc.unserved is not None:  # (the server's catalog leaves out the models of a provider not in use)
            provider = exc.unserved.partition(":")[0]
            full = f" ({exc.unserved})" if exc.unserved != name else ""
            return (
                f"The model {shown}{full} is in the catalog, but its provider {provider!r} is not in use on this server"
                f" (its API key is not set, or its adapter not installed): {fix}"
            )
        if exc.ambiguous:  # (one model behind two endpoints: `laptop:llama3.2`, `gpu:llama3.2`)
            names = ", ".join(f"`{n}`" for n in sorted(exc.ambiguous))
            return f"The model {shown} is ambiguous: it is the model id of {names}; name one in full"
        meant = f" (did you mean `{exc.meant}`? names are matched exactly)" if exc.meant is not None else ""
        return f"The model {shown} does not exist{meant}: {fix}"
    why = unusable(model, state)
    if why is not None:
        full = f" ({model.name})" if model.name != name else ""
        return f"The model `{name}`{full} is in the catalog but {why} on this server: {fix}"
    return model


def unusable(model: ModelProfile, state: ServerState) -> str | None:
    """Why the catalog's `model` cannot answer a call here (`disabled`, judge-only, …), None when it can."""
    if model in state.orchestrator.usable_models(None):
        return None
    if model.status == "disabled":
        return "disabled"
    if model.judge_only:  # (it was said to be "not configured": it is, and judges the answers of the others)
        return "judge-only (it judges answers and never writes one)"
    return "not priced" if not model.priced else "not configured"


def _shown(name: str) -> str:
    """A model name as an error quotes it: in backticks, or as a quoted literal when it is long or holds a character
    a terminal would not show (a `\\r` of a Windows env file hid itself, and could overwrite the message's start)."""
    return f"`{name}`" if len(name) <= 80 and name.isprintable() else quoted(name)


def chat_messages(request: ChatRequest) -> list[Message]:
    """The conversation as plain text messages (`developer` is a system message; a message's `name` is said before its
    text; earlier tool calls and their results as text, `ToolTurns`); 400 for anything else."""
    messages = []
    tools = ToolTurns()
    for i, m in enumerate(request.messages):
        param = f"messages.{i}"
        if m.role != "assistant":
            for field in ("tool_calls", "function_call"):
                if getattr(m, field, None):
                    raise _invalid(f"{param}.{field}", f"only an assistant message has {field}, not a {m.role} message")
        if isinstance(m.content, list):
            content = "\n".join(_part_text(part, m.role, f"{param}.content.{j}") for j, part in enumerate(m.content))
        else:
            content = m.content or _refusal(m)
        if m.role in ("tool", "function"):
            messages.append(tools.result(m, i, content))
            continue
        content = _named(m, content)
        if m.role == "assistant":
            calls = tools.calls_text(m, i)
            content = f"{content}\n{calls}" if content and calls else content or calls
        else:
            tools.close(i)
        role = "system" if m.role == "developer" else m.role
        messages.append(Message(role=role, content=content))
    last = len(messages) - 1
    if messages[last].role != "user":
        raise _invalid(
            f"messages.{last}.role",
            f"the last message is {request.messages[last].role!r}: end the conversation with the user message to"
            " answer",
        )
    tools.close(last + 1)
    if blank(messages[last].content):
        raise _invalid(f"messages.{last}.content", "the last user message has no text: give the text to answer")
    return messages


def _named(message: ChatMessageIn, content: str) -> str:
    """The text of a message with a `name` (OpenAI's participant name, "to differentiate between participants of the
    same role": the speakers of a group chat, a few-shot example's `example_user`), which no provider's message holds:
    said before its text, `alice: …`, so the model still tells who said what (it was dropped)."""
    name = (message.name or "").strip()
    return f"{name}: {content}" if name and not blank(content) else content


def _part_text(part: ContentPart, role: str, param: str) -> str:
    """The text of a content part: a `text` part's, or the refusal an assistant turn holds (OpenAI answers one as a
    `refusal` part, which a client sends back as it received it); 400 for any other part."""
    if part.type == "refusal" and role == "assistant":
        refusal = (part.model_extra or {}).get("refusal")
        if not isinstance(refusal, str):
            raise _invalid(f"{param}.refusal", "a refusal part needs its `refusal` text")
        return refusal
    if part.type != "text":
        raise _unsupported(f"{param}.type", f"{quoted(part.type)} parts are not supported (text only)")
    if part.text is None:
        raise _invalid(f"{param}.text", "a text part needs its `text`")
    return part.text


def _refusal(message: ChatMessageIn) -> str:
    """An assistant turn's `refusal` (OpenAI's answer that refused, with no content), else no text."""
    refusal = (message.model_extra or {}).get("refusal") if message.role == "assistant" else None
    return refusal if isinstance(refusal, str) else ""


def _unsupported(param: str, why: str) -> OpenAIError:
    return OpenAIError(400, f"{param}: {why}", param=param, code="unsupported_parameter")


def _invalid(param: str, why: str) -> OpenAIError:
    return OpenAIError(400, f"{param}: {why}", param=param, code="invalid_value")


class DefaultSessions:
    """Each user's own `/v1` session: a stable id from the user id and a generation counter in the store,
    so every server process sharing the store finds the same one."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._known: dict[str, str] = {}

    @staticmethod
    def session_id(user_id: str, generation: int) -> str:
        return hashlib.sha256(f"orchestratex/v1:{user_id}:{generation}".encode()).hexdigest()[:24]

    async def get(self, user_id: str) -> Session:
        store = self.state.store
        known = self._known.get(user_id)
        if known is not None:
            session = await self._read(known)
            if session is not None and session.status == "active":
                return session
        key = f"v1-session:{user_id}"
        generation = await store.incr(key, 0)
        for _ in range(5):
            sid = self.session_id(user_id, generation)
            session = await self._read(sid) or await self._create(sid, user_id)
            if session.status == "active":
                self._known[user_id] = sid
                return session
            if session.status == "paused":
                raise OpenAIError(
                    400,
                    f"your /v1 session {sid} is paused: set it active (PATCH /api/sessions/{sid}/status)"
                    " or pass session_id",
                    code="session_not_active",  # (no `param`: the request named no session)
                )
            # The user ended it: the next generation. Calls that found it ended at once (in this process or another)
            # all go on to the same one; only the first of them moves the counter, once per ended generation (each
            # moving it by one made two calls after the end open two new sessions, three calls three).
            if await store.incr(f"{key}:{generation}:ended", 1) == 1:
                await store.incr(key, 1)
            generation += 1
        raise OpenAIError(503, "could not open a /v1 session: retry", code="session_unavailable")

    async def is_default(self, session: Session) -> bool:
        """Whether `session` is its user's current `/v1` session (one this class made, not one the user created)."""
        if self._known.get(session.user_id) == session.id:
            return True
        generation = await self.state.store.incr(f"v1-session:{session.user_id}", 0)
        return session.id == self.session_id(session.user_id, generation)

    async def _read(self, sid: str) -> Session | None:
        try:
            return await self.state.store.get_session(sid)
        except NotFound:
            return None

    async def _create(self, sid: str, user_id: str) -> Session:
        max_iterations = self.state.orchestrator.defaults.max_iterations
        try:
            return await self.state.store.create_session(
                Session(id=sid, user_id=user_id, max_iterations=max_iterations)
            )
        except Exception:  # another request (or process) created it first
            session = await self._read(sid)
            if session is None:
                raise
            return session


@dataclass(slots=True)
class ChatCall:
    """A stored `pending` orchestration for one request, with what its answer needs."""

    orchestration: Orchestration
    target: Target
    headers: dict[str, str]
    """The rate-limit headers of the call."""
    keyed: bool = False
    """The call has an `Idempotency-Key`: its client leaving does not cancel it (it will be sent again)."""
    replayed: bool = False
    """`orchestration` is the one an earlier call with the same key stored: nothing was stored nor started."""


async def _session_and_thread(
    state: ServerState, sessions: DefaultSessions, user: Principal, options: OrchestrationOptions
) -> tuple[Session, Thread | None]:
    thread = None
    if options.thread_id is not None:
        thread = await _owned(state, user, load_thread(state, user, options.thread_id), "thread_id", options.thread_id)
        if options.session_id is not None and options.session_id != thread.session_id:
            raise OpenAIError(
                400,
                f"thread {thread.id} belongs to session {thread.session_id}",
                param="thread_id",
                code="invalid_value",
            )
    sid = thread.session_id if thread is not None else options.session_id
    if sid is None:
        return await sessions.get(user.user_id), None
    session = await _owned(state, user, load_session(state, user, sid), "session_id", sid)
    if session.status != "active":
        whose = f"thread {thread.id}'s session" if thread is not None else "session"
        raise OpenAIError(
            400,
            f"{whose} {session.id} is {session.status}: orchestrations start only in an active session",
            param="session_id" if thread is None else "thread_id",  # (the one the request gave)
            code="session_not_active",
        )
    return session, thread


async def _owned(state: ServerState, user: Principal, load: Any, param: str, given: str) -> Any:
    try:
        return await load
    except NotFound as exc:
        message = await _completion_id(state, user, param, given) or exc.message
        raise OpenAIError(404, message, param=param, code="not_found") from None


async def _completion_id(state: ServerState, user: Principal, param: str, given: str) -> str | None:
    """What to send instead when the `thread_id` (or `session_id`) given is a chat completion's `id`
    (`chatcmpl-<orchestration id>`, or that id bare) of the caller's: continuing a conversation with the answer's `id`,
    as the Responses API's `previous_response_id` does, was answered "no thread 'chatcmpl-…' (ids are 24 hexadecimal
    digits)", which did not say which id to send. None when it is no such id."""
    oid = given.removeprefix("chatcmpl-")
    try:
        doc = await load_orchestration(state, user, oid)
    except NotFound:
        return None
    value = doc.thread_id if param == "thread_id" else doc.session_id
    return (
        f"{given!r} is the id of a chat completion (orchestration {oid}), not of a {param.removesuffix('_id')}: its"
        f" {param} is {value!r} (the answer's `orchestratex.{param}`); send that"
    )


def _settings(
    state: ServerState,
    target: Target,
    request: ChatRequest,
    options: OrchestrationOptions,
    presets: Mapping[str, Preset] | None = None,
) -> dict[str, Any]:
    preset = target.preset
    if target.model is not None and options.preferred_models is not None:
        raise OpenAIError(
            400,
            f"preferred_models goes with a preset (e.g. orchestratex/auto): `{target.requested}` is one model already",
            param="preferred_models",
            code="invalid_value",
        )

    def pick(name: str) -> Any:
        value = getattr(options, name)
        return value if value is not None else getattr(preset, name)

    for name in options.preferred_models or ():
        if name in (presets or {}):  # (GET /v1/models lists the presets first: "does not exist" sent a client there)
            raise _invalid(
                "preferred_models",
                f"`{name}` is a preset (orchestration settings), not a model: name models of the catalog, which GET"
                " /v1/models lists after the presets, or ask for the preset as `model`",
            )
        model = usable_model(name, state, "name models of GET /v1/models")
        if isinstance(model, str):
            raise _invalid("preferred_models", model)
    if target.model is not None:
        preferred: Any = [target.model.name]
    else:
        preferred = options.preferred_models or _preset_models(state, target)
    cap = request.output_cap
    return {
        "max_iterations": pick("max_iterations"),
        "evaluation_threshold": pick("evaluation_threshold"),
        "preferred_models": list(preferred) if preferred else None,
        "cost_limit": pick("cost_limit"),
        "max_output_tokens": cap if cap is not None else preset.max_output_tokens,
        "patience": pick("patience"),
        "domain": pick("domain"),
        "stop_sequences": request.stop_sequences or None,
    }


def _preset_models(state: ServerState, target: Target) -> list[str] | None:
    """The models of the preset `target` names that this server can still route to: a catalog file watched for changes
    may since have removed or disabled some (the presets are checked when the server starts). Those left are routed
    among; with none left, the 404 names the preset and why (it said "unknown model 'X'; known models: …" with
    `param: "model"`, as if the preset the client named did not exist)."""
    names = target.preset.preferred_models
    if not names:
        return None
    routed = {m.name for m in state.orchestrator.usable_models(None)}  # (once per call, not once per model)
    usable, reasons = [], []
    for name in names:
        with contextlib.suppress(UnknownModelError):
            if state.orchestrator.catalog.get(name).name in routed:
                usable.append(name)
                continue
        why = usable_model(name, state, "")
        reasons.append(why.rstrip(": ") if isinstance(why, str) else f"`{name}` cannot answer")
    if reasons:
        logger.warning("/v1 preset %r: %s", target.requested, "; ".join(reasons))
    if not usable:
        raise OpenAIError(
            404,
            f"The model `{target.requested}` is a preset of this server whose preferred models it can no longer route"
            f" to ({'; '.join(reasons)}): the server's presets need updating; meanwhile use another preset or a model"
            " of GET /v1/models",
            param="model",
            code="model_not_found",
        )
    return usable


async def prepare_call(
    state: ServerState,
    sessions: DefaultSessions,
    user: Principal,
    request: ChatRequest,
    options: OrchestrationOptions,
    target: Target,
    presets: Mapping[str, Preset] | None = None,
    key: str | None = None,
) -> ChatCall:
    """Check the request, count it against the session's rate and the user's concurrency, and store its
    `pending` orchestration (which then holds the user's slot until it ends). With an `Idempotency-Key` (`key`) its
    user already called with, the orchestration that call stored (`replayed`), nothing stored (see `_openai_replay`)."""
    settings = _settings(state, target, request, options, presets)
    messages = chat_messages(request)
    session, thread = await _session_and_thread(state, sessions, user, options)
    if settings["max_iterations"] is None and await sessions.is_default(session):
        # the server's default now, not the one of when the user's `/v1` session was made (a server restarted with
        # another default kept running the old one, the session's)
        settings["max_iterations"] = state.orchestrator.defaults.max_iterations
    headers = await state.rate.hit(session.id)
    try:
        doc, new_thread, _ = await state.orchestrator._plan(messages, session=session, thread=thread, **settings)
    except ConfigurationError as exc:
        raise _unjudgeable(exc, session, settings["max_iterations"], target, options) from None
    check_output_cap(state, doc, request)
    check_window(state, doc, request, session)
    if key is not None:
        doc.id = keyed_id(session.user_id, key)
        if (earlier := await started_before(state.orchestrator, session.user_id, key)) is not None:
            return _replayed(earlier, doc, thread, request, options, target, headers)
    check_cooling(state, doc, session)
    # the storage quota, as `/api/orchestration/start` counts it: what the orchestration stores of the conversation (on
    # a thread, its earlier turns and their answers too), its stop sequences, and a new thread's prompt
    size = stored_bytes(doc) + text_bytes(*(doc.settings.stop_sequences or ()))
    if new_thread is not None:
        size += text_bytes(new_thread.original_prompt, new_thread.context)
    charged = await state.quota.charge(session.user_id, size)
    try:
        admitted = await state.concurrency.acquire(session.user_id)
    except BaseException:
        await state.quota.refund(session.user_id, charged)
        raise
    try:
        await state.runner.store_to_run(doc, new_thread)
    except BaseException as exc:
        await state.quota.refund(session.user_id, charged)
        # the same key sent at once (to this server or another on the store): the first call stored it, this one
        # answers it
        if key is not None and isinstance(exc, Conflict):
            earlier = await started_before(state.orchestrator, session.user_id, key)
            if earlier is not None:
                return _replayed(earlier, doc, thread, request, options, target, headers)
        raise
    finally:
        await state.concurrency.release(admitted)
    return ChatCall(doc, target, headers, keyed=key is not None)


def _replayed(
    earlier: Orchestration,
    doc: Orchestration,
    thread: Thread | None,
    request: ChatRequest,
    options: OrchestrationOptions,
    target: Target,
    headers: dict[str, str],
) -> ChatCall:
    """The call answered with `earlier`, which a call with the same key stored (409 when this one asks for another)."""
    model = target.model is not None or options.preferred_models is not None
    check_same_call(earlier, doc, thread, model=model, cap=request.output_cap is not None)
    return ChatCall(earlier, target, headers, keyed=True, replayed=True)


_UNJUDGED = 'judging="when_needed" and max_iterations=1'
"""How the library's "no model can judge" error ends: what a run takes to answer unjudged."""


def _unjudgeable(
    exc: ConfigurationError,
    session: Session,
    max_iterations: int | None,
    target: Target,
    options: OrchestrationOptions,
) -> OpenAIError | ConfigurationError:
    """The `/v1` answer when no model of the server can judge the call's answers (a catalog of one local model): the
    library's words say to pass `Orchestrator(evaluator=...)` or `judging="when_needed"`, which a `/v1` call cannot;
    they are followed by what it can do. Any other configuration error as it is.

    A call that already runs in a session taking answers unjudged, but asks for more than one attempt (a preset's
    `max_iterations`, as `orchestratex/best`'s 8, or the request's), is told that, not to pass the `session_id` it
    passed."""
    if not exc.message.endswith(_UNJUDGED):
        return exc
    attempts = max_iterations if max_iterations is not None else session.max_iterations
    if session.settings.judging == "when_needed" and attempts > 1:
        mine = options.max_iterations is not None
        where = "the request's" if mine else f"the preset {target.requested}'s" if max_iterations else "the session's"
        return OpenAIError(
            400,
            f"{exc.message}. Session {session.id} takes answers unjudged, but this call asks for up to {attempts}"
            f" attempts ({where} max_iterations), and each attempt but the last is judged: send"
            ' "max_iterations": 1, or call orchestratex/fast or a model of GET /v1/models (one attempt each)',
            param="max_iterations" if mine else "model",
            code="invalid_value",
        )
    return OpenAIError(
        400,
        f"{exc.message}. On /v1, a call answered unjudged runs in a session of yours created with"
        ' {"max_iterations": 1, "settings": {"judging": "when_needed"}} (POST /api/sessions/): pass its session_id;'
        " else the server needs a second model to judge",
        code="invalid_value",
    )


def check_output_cap(state: ServerState, doc: Orchestration, request: ChatRequest) -> None:
    """400 `invalid_value` naming the field when the request's answer cap is above the output limit of every
    model the call may use (OpenAI refuses one above its model's limit); nothing is stored."""
    cap = request.output_cap
    models = state.orchestrator._routable(doc.settings.preferred_models)
    if cap is None or not models:
        return
    largest = max(models, key=lambda m: m.max_output_tokens)
    if cap <= largest.max_output_tokens:
        return
    param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    if len(models) == 1:
        which = f"{largest.name} supports at most {largest.max_output_tokens:,} completion tokens"
    else:
        which = (
            f"the models this call may use support at most {largest.max_output_tokens:,} completion tokens"
            f" (the most, {largest.name}'s)"
        )
    raise OpenAIError(400, f"{param} is too large: {cap}. {which}: lower {param}", param=param, code="invalid_value")


def check_window(state: ServerState, doc: Orchestration, request: ChatRequest, session: Session | None = None) -> None:
    """400 `context_length_exceeded` (OpenAI's answer) when the conversation, as its run would send it, and the
    answer it asks for fit no routable model's context window: the run could only fail, so nothing is stored. The
    message names the cap's field as the request gave it (`max_completion_tokens`, else `max_tokens`). Without a cap,
    the answer is asked to be no longer than the window leaves, nor than a judge can read (`judge_room`)."""
    o = state.orchestrator
    _, sent = build_messages(doc, o.system_prompt)  # (what its first attempt sends)
    models = o._routable(doc.settings.preferred_models)
    size = estimate_message_tokens(sent)
    why = too_long(models, size, doc.settings.max_output_tokens)
    if why is not None and request.output_cap is None:
        # No cap was sent: the answer may take what the largest window leaves, as OpenAI's API and local servers
        # (vLLM, llama.cpp) answer such a request, not the server's default cap or a 400 (a long prompt to a local
        # model of 4,096 tokens was refused where the model itself would have answered it). The prompt is read as
        # `too_long` reads it (a quarter as many tokens as bytes), with a tenth more for a tokenizer that makes more.
        tokens = size // 4 + size // 40
        room = max((min(m.max_output_tokens, m.context_window - tokens) for m in models), default=0)
        if room >= 1:
            doc.settings = doc.settings.model_copy(update={"max_output_tokens": room})
            why = None
    readable = judge_room(state, doc, session) if why is None else None  # (nor more than a judge can read)
    longest = min(doc.settings.max_output_tokens, max((m.max_output_tokens for m in models), default=0))
    if readable is not None and readable < longest:  # (each model writes up to its own limit at most)
        if request.output_cap is None:
            doc.settings = doc.settings.model_copy(update={"max_output_tokens": readable})
        else:  # (the run would stop at once: "no judge can read this prompt and its answer")
            param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
            raise OpenAIError(
                400,
                f"{param} is too large for the judges: with this conversation, a judge can read an answer of at most"
                f" {readable:,} tokens (its window holds the conversation, its rubric and its verdict too): lower"
                f" {param}, or send none",
                param="messages",
                code="context_length_exceeded",
            )
    if why is not None:  # (here the answer's length is `max_tokens`)
        cap = doc.settings.max_output_tokens
        if request.output_cap is None:  # (the server's or the preset's cap: "lower max_tokens" to a request that sent
            fix = f"send a smaller max_tokens (none was sent, so the default of {cap:,} applied)"  # none misled it)
        else:
            fix = f"lower {'max_completion_tokens' if request.max_completion_tokens is not None else 'max_tokens'}"
        why = why.replace("lower max_output_tokens", fix)
        raise OpenAIError(400, why, param="messages", code="context_length_exceeded")
