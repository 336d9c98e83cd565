"""Checks made before a run starts, so that a run that cannot end well fails before any paid call."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, SupportsIndex, overload

from pydantic import ValidationError

from .._awaited import check_async
from .._plain import is_real
from .._user_ids import same_user
from ..catalog import ModelCatalog, ModelProfile, model_identity
from ..evaluation import Evaluator, LLMJudgeEvaluator
from ..evaluation._base import checked_panel_size
from ..events import EventHandler
from ..exceptions import ConfigurationError, UnknownModelError, UnknownPriceError, UserError
from ..records import OrchestrationSettings, Session, Thread
from ._chat import blank, check_text
from ._result import RunOptions

if TYPE_CHECKING:
    from .orchestrator import Orchestrator

__all__ = [
    "Handlers",
    "check_async",
    "check_delta_sink",
    "check_handlers",
    "check_numbers",
    "check_options",
    "check_owner",
    "check_prompt",
    "check_runnable",
    "check_where",
    "first_error",
    "inactive_session",
    "preferred_names",
    "validated_settings",
]

_BUILT_IN_PANEL_SIZES = (Evaluator.panel_size_for, LLMJudgeEvaluator.panel_size_for)
"""`panel_size_for` as the library defines it, which always returns a count (`checked_panel_size`)."""
_PRICE_FIX = (
    "set input_cost_per_1k and output_cost_per_1k in your catalog (0 for a free local model; see docs/catalog.md)"
)


def check_runnable(
    orchestrator: Orchestrator,
    preferred: Sequence[str] | None,
    judges: Sequence[str] | None = None,
    *,
    unjudged: bool = False,
) -> None:
    """`UnknownPriceError` when a model to route to has no price; `ConfigurationError` when no model
    could judge the answer (the default evaluator needs a judge other than the generating model, among the run's
    judge set — `judges`, a session's, else `Orchestrator(judges=...)` — and the judges it pins), unless the run
    judges nothing (`unjudged`: `judging="when_needed"` and one iteration). A check that passed is not made again
    while the catalog (its version), the providers, the evaluator and its pinned judges, the judge set and
    `preferred` are the same."""
    catalog, evaluator = orchestrator.catalog, orchestrator.evaluator
    for provider in orchestrator._providers.values():  # (checked every run: a script may change between runs)
        faults = getattr(provider, "faults", None)
        if faults is not None and (getattr(faults, "script", None) or getattr(faults, "models", None)):
            check_fault_names(catalog, faults.script, faults.models)
    pinned = getattr(evaluator, "pinned", None)
    judges = judges or orchestrator.judges
    values = (
        catalog.version,
        tuple(orchestrator._providers),
        None if pinned is None else tuple(pinned),
        None if judges is None else tuple(judges),
        None if preferred is None else tuple(preferred),
        unjudged,
    )
    last = orchestrator._runnable
    if last is not None and last[0] is catalog and last[1] is evaluator and last[2] == values:
        return
    if type(evaluator).panel_size_for not in _BUILT_IN_PANEL_SIZES:  # one's own: a count, or said so before the run
        checked_panel_size(evaluator, orchestrator._judge_pool(judges))
    _check_runnable(orchestrator, preferred, judges, unjudged)
    orchestrator._runnable = (catalog, evaluator, values)


def check_fault_names(catalog: ModelCatalog, script: Mapping[str, object], models: Collection[str] | None) -> None:
    """`UserError` for a model a simulator's `Faults` names (`fail_next("sim:gpt-41", …)`, `Faults(models={…})`) that no
    model of the catalog is: its faults never happened, and a test of the retries passed without a fault."""
    for name in [*script, *(models or ())]:
        try:
            catalog.get(name)
        except UnknownModelError as exc:
            if exc.ambiguous:  # (a bare id several models have: the faults hit each of them)
                continue
            meant = f" (did you mean {exc.meant!r}?)" if exc.meant else ""
            raise UserError(
                f"the simulator's Faults name {name!r}{meant}, which is no model of this orchestrator's catalog: its "
                "faults would never happen. Name a model as the catalog does (sim:gpt-4.1, openai:gpt-4.1, gpt4, "
                "gpt-4.1)"
            ) from None


def _check_runnable(
    orchestrator: Orchestrator, preferred: Sequence[str] | None, judges: Sequence[str] | None, unjudged: bool
) -> None:
    served = [m for m in orchestrator.catalog if m.status != "disabled" and m.provider in orchestrator._providers]
    allowed = set(preferred) if preferred else None
    generators = [m for m in served if allowed is None or m.name in allowed]
    if all(m.judge_only for m in generators):
        raise ConfigurationError(_no_model(orchestrator, allowed))
    unpriced = [m.name for m in generators if not m.priced]
    if unpriced and (allowed is not None or len(unpriced) == len(generators)):
        names = ", ".join(repr(n) for n in unpriced)
        said = "model {} has no price, so its cost" if len(unpriced) == 1 else "models {} have no price, so their cost"
        raise UnknownPriceError(f"{said.format(names)} cannot be counted: {_PRICE_FIX}")
    if unjudged:  # (its one answer is returned unjudged: no judge is needed, a one-model catalog runs)
        return
    evaluator = orchestrator.evaluator
    if not isinstance(evaluator, LLMJudgeEvaluator):
        _check_judged(orchestrator, evaluator, generators, judges)
        return
    if evaluator.pinned is not None:
        # (a bare model id pins every model it is the id of, as `admits` reads it: the same model behind two
        # endpoints, which the catalog cannot resolve to one, is no unknown name)
        ids = {m.version for m in orchestrator.catalog}
        unknown = [name for name in evaluator.pinned if name not in ids and name not in orchestrator.catalog]
        if unknown:
            known = ", ".join(sorted(m.name for m in orchestrator.catalog))
            raise ConfigurationError(
                f"LLMJudgeEvaluator(judges=...) names {unknown[0]!r}, which is not a model of the catalog: pin judges "
                f"among {known}"
            )
    usable = [m for m in orchestrator._judge_pool(judges) if evaluator.admits(m)]
    priced = [m for m in generators if m.priced and not m.judge_only]
    if priced and not _any_other(priced, usable):
        only = priced[0].name if len(priced) == 1 else ", ".join(m.name for m in priced)
        limits = [f"judges={list(judges)}"] if judges else []
        if evaluator.pinned is not None:
            limits.append(f"LLMJudgeEvaluator(judges={evaluator.pinned})")
        if limits:
            found = ", ".join(m.name for m in usable) or (
                f"none ({_unusable_judges(orchestrator, judges)})"
                if judges and _unusable_judges(orchestrator, judges)
                else "none (a judge must be enabled, priced, served by a configured provider and allowed by each)"
            )
            raise ConfigurationError(
                f"no model can judge the answers of {only}: a judge must be another model"
                f"{_same_model_note(priced, usable)}, and the judges allowed "
                f"({' and '.join(limits)}) are {found}. Allow another judge, or route to other models "
                "(preferred_models)"
            )
        disabled = _disabled_judges(orchestrator, priced, judges)
        if disabled:  # (the fix is to enable one, not to configure a provider: it said "configure a second provider")
            raise ConfigurationError(
                f"no model can judge the answers of {only}: a judge must be another model, and the catalog's others "
                f"are disabled ({', '.join(disabled)}). Enable one to judge (catalog.set_status(name, 'active'), or "
                'status = "active" in the catalog file), add another model, or take single answers unjudged: '
                'judging="when_needed" and max_iterations=1'
            )
        if not orchestrator._owned_providers:  # (given `providers=`: no key of the environment is read)
            from ..providers.function import FunctionProvider

            prefix = priced[0].provider
            example = (
                f" (e.g. catalog.add(ModelProfile(name={prefix + ':judge'!r}, cost_per_1k_tokens=0, judge_only=True)),"
                f" which your FunctionProvider answers as it answers {priced[0].name})"
                if isinstance(orchestrator._providers.get(prefix), FunctionProvider)
                else ""
            )
            raise ConfigurationError(
                f"no model can judge the answers of {only}: a judge must be another model"
                f"{_same_model_note(priced, usable)}. Add a judge: add a second model to the catalog, served by a "
                f"provider you gave{example}, or pass Orchestrator(evaluator=...) with an evaluator that needs no "
                'judge model; or take single answers unjudged: judging="when_needed" and max_iterations=1'
            )
        raise ConfigurationError(
            f"no model can judge the answers of {only}: a judge must be another model"
            f"{_same_model_note(priced, usable)}. Add a judge: configure a "
            "second provider (e.g. set ANTHROPIC_API_KEY or GEMINI_API_KEY), add a second model to your catalog "
            "file (a local one at price 0 will do), or pass Orchestrator(evaluator=...) with an evaluator that "
            'needs no judge model; or take single answers unjudged: judging="when_needed" and max_iterations=1'
        )


def _unusable_judges(orchestrator: Orchestrator, judges: Sequence[str]) -> str:
    """Why each judge of `judges` cannot judge, when it is one of the catalog's own rules (`"no longer in the catalog:
    function:c"`, a session's judge removed since; `"disabled: …"`), else "": the message said only that a judge must
    be enabled, priced and served, naming none."""
    reasons: dict[str, list[str]] = {}
    for name in judges:
        try:
            model = orchestrator.catalog.get(name)
        except UnknownModelError:
            reasons.setdefault("no longer in the catalog", []).append(name)
            continue
        if model.status == "disabled":
            reasons.setdefault("disabled", []).append(model.name)
        elif model.provider not in orchestrator._providers:
            reasons.setdefault(f"provider {model.provider!r} not configured", []).append(model.name)
        elif not model.priced:
            reasons.setdefault("no price", []).append(model.name)
    return "; ".join(f"{why}: {', '.join(names)}" for why, names in reasons.items())


def _disabled_judges(
    orchestrator: Orchestrator, generators: list[ModelProfile], judges: Sequence[str] | None
) -> list[str]:
    """The disabled models of the catalog that would judge the `generators`' answers if enabled: priced, of a
    configured provider, among the judges allowed, another model than each generator."""
    allowed = set(judges) if judges else None
    own = {model_identity(g) for g in generators}
    return [
        m.name
        for m in orchestrator.catalog
        if m.status == "disabled"
        and m.provider in orchestrator._providers
        and m.priced
        and (allowed is None or m.name in allowed)
        and model_identity(m) not in own
    ]


def _any_other(generators: list[ModelProfile], judges: list[ModelProfile]) -> bool:
    """Whether some generator has a judge that is another model (not itself, nor itself behind another endpoint)."""
    return any(model_identity(j) != model_identity(g) for g in generators for j in judges)


def _same_model_note(generators: list[ModelProfile], judges: list[ModelProfile]) -> str:
    """What to add when the only judges are the generators behind other endpoints."""
    twins = sorted({j.name for g in generators for j in judges if j.name != g.name})
    return f" ({', '.join(twins)}: the same model behind another endpoint)" if twins else ""


def _check_judged(
    orchestrator: Orchestrator, evaluator: Evaluator, generators: list[ModelProfile], judges: Sequence[str] | None
) -> None:
    """Another evaluator than the default: one that says it calls judge models (`panel_size_for`, 1 unless it is
    overridden) needs another model to judge each answer, as the default does."""
    usable = orchestrator._judge_pool(judges)
    if evaluator.panel_size_for(usable) <= 0:
        return  # it calls no model: nothing to judge with, nothing kept for judging
    priced = [m for m in generators if m.priced and not m.judge_only]
    if priced and not _any_other(priced, usable):
        only = priced[0].name if len(priced) == 1 else ", ".join(m.name for m in priced)
        name = type(evaluator).__name__
        raise ConfigurationError(
            f"no model can judge the answers of {only}: {name}.panel_size_for says each evaluation calls a judge "
            f"model, and a judge must be another model{_same_model_note(priced, usable)}. If your evaluator calls no "
            "model, override "
            "panel_size_for to return 0; otherwise add a judge (a second model or provider)"
        )


def _no_model(orchestrator: Orchestrator, allowed: set[str] | None) -> str:
    """Why no model can answer: no provider, or each model of the catalog (or of `allowed`) and what rules it out."""
    providers = orchestrator._providers
    if not providers:
        return (
            "no provider is configured: set a provider's API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY), "
            "pass Orchestrator(providers=[...]), or use the simulated models (Orchestrator(simulate=True))"
        )
    if allowed is None and not len(orchestrator.catalog):
        name = sorted(providers)[0]
        return (
            f"no model of the catalog can answer: it has no model of the configured providers "
            f"({', '.join(sorted(providers))}). A model is served by the provider named before the colon of its name:"
            f" give the orchestrator a catalog of them, e.g. Orchestrator(providers=[...], catalog=ModelCatalog("
            f"[ModelProfile(name='{name}:my-model', input_cost_per_1k=0.001, output_cost_per_1k=0.002)]))"
        )
    models = [m for m in orchestrator.catalog if allowed is None or m.name in allowed]
    reasons: dict[str, list[str]] = {}
    for m in models:
        if m.status == "disabled":
            why = "disabled"
        elif m.provider not in providers:
            why = f"provider {m.provider!r} not configured"
        else:
            why = "judge-only"
        reasons.setdefault(why, []).append(m.name)
    gone = sorted(allowed - {m.name for m in models}) if allowed is not None else []
    if gone:  # (a session's preferred model removed from the catalog since)
        reasons["no longer in the catalog"] = gone
    which = "none of the preferred models" if allowed is not None else "no model of the catalog"
    detail = "; ".join(f"{why}: {', '.join(names)}" for why, names in reasons.items()) or "the catalog is empty"
    fix = "Enable a model, configure its provider, or choose other models"
    simulated = all(getattr(p, "simulated", False) for p in providers.values())
    if simulated and not any(m.provider in providers for m in orchestrator.catalog):  # (a catalog of real models)
        fix = (
            "The simulator answers for the models of a simulated catalog (named sim:<model>): pass "
            "catalog=catalog.simulated() (ModelCatalog.default().simulated() for the shipped one), or leave catalog out"
        )
    return f"{which} can answer ({detail}). Configured providers: {', '.join(sorted(providers))}. {fix}"


_OPTIONS = frozenset(RunOptions.__annotations__)

_MEANT = {
    "threshold": ": did you mean 'evaluation_threshold'?",
    "score_threshold": ": did you mean 'evaluation_threshold'?",
    "model": ": did you mean 'preferred_models'? (a list: preferred_models=['gpt4'])",
    "models": ": did you mean 'preferred_models'?",
    "stop": ": did you mean 'stop_sequences'?",
    "max_tokens": ": did you mean 'max_output_tokens'?",
    "max_completion_tokens": ": did you mean 'max_output_tokens'?",
    "budget": ": did you mean 'cost_limit'? (US dollars)",
    "max_cost": ": did you mean 'cost_limit'? (US dollars)",
    "messages": ": pass the conversation as the prompt, run([{'role': 'user', 'content': ...}])",
    "system_prompt": ": put a system message first in the conversation, or set Orchestrator(system_prompt=...)",
    "judges": ": set them with Orchestrator(judges=[...]) or create_session(judges=[...])",
    "judging": ": set it with Orchestrator(judging=...) or create_session(judging=...)",
}
"""What a run option written as another API names it (OpenAI's `stop`, `max_tokens`, `model`, `messages`) or a setting
of the orchestrator or the session means. Left to `difflib`, `threshold` was "did you mean 'thread'?" (which then
refused 7 as no thread), and `stop` or `model` listed the options without saying which was meant."""


def check_options(options: Mapping[str, object]) -> None:
    """`UserError` naming an option `run` does not take (and the one meant, when it looks like a typo, or is another
    API's name for it)."""
    if _OPTIONS.issuperset(options):
        return
    unknown = options.keys() - _OPTIONS
    if unknown:
        name = sorted(unknown)[0]
        import difflib  # (only for an unknown option: not at import)

        close = difflib.get_close_matches(name, RunOptions.__annotations__.keys(), n=1)
        hint = _MEANT.get(name) or (
            f": did you mean {close[0]!r}?" if close else f"; the options are {', '.join(RunOptions.__annotations__)}"
        )
        raise UserError(f"unknown option {name!r}{hint}")


class Handlers(list[EventHandler]):
    """`orchestrator.handlers`: a list whose every way of adding a handler (`append`, `extend`, `insert`, `+=`, an
    item or slice set) checks it as `on_event=` is checked. (`handlers.append(None)` was taken, then logged "'NoneType'
    object is not callable" with a traceback on every event of every run; a generator function never ran.)"""

    def append(self, handler: EventHandler) -> None:
        check_handlers([handler], "handlers.append")
        super().append(handler)

    def extend(self, handlers: Iterable[EventHandler]) -> None:
        handlers = list(handlers)
        check_handlers(handlers, "handlers.extend")
        super().extend(handlers)

    def insert(self, index: SupportsIndex, handler: EventHandler) -> None:
        check_handlers([handler], "handlers.insert")
        super().insert(index, handler)

    def __iadd__(self, handlers: Iterable[EventHandler]) -> Self:  # type: ignore[override,misc]
        self.extend(handlers)
        return self

    @overload
    def __setitem__(self, index: SupportsIndex, handler: EventHandler) -> None: ...
    @overload
    def __setitem__(self, index: slice, handler: Iterable[EventHandler]) -> None: ...
    def __setitem__(self, index: SupportsIndex | slice, handler: Any) -> None:
        if isinstance(index, slice):
            handler = list(handler)
            check_handlers(handler, "handlers")
        else:
            check_handlers([handler], "handlers")
        super().__setitem__(index, handler)


def check_handlers(on_event: object, what: str = "on_event") -> None:
    """`UserError` unless `on_event` is an event handler (a callable) or a collection of them. A generator function
    (`def` or `async def` with a `yield`) is refused: called with each event, it made a generator that nothing ran, so
    its body never ran, without a word."""
    if type(on_event) is tuple and not on_event:  # (the default: none)
        return
    handlers = [on_event] if callable(on_event) else on_event
    if isinstance(handlers, Collection) and not isinstance(handlers, str | bytes):
        bad = [h for h in handlers if not callable(h) or _generator_function(h) or not _takes_an_event(h)]
        if not bad:
            return
        on_event = bad[0]
        if callable(on_event):
            inner = on_event.func if isinstance(on_event, functools.partial) else on_event
            name = getattr(inner, "__qualname__", None) or type(inner).__name__
            if not _takes_an_event(on_event):  # (it failed on every event of every run, only logged)
                raise UserError(
                    f"{what}: {name}{_shown_signature(on_event)} cannot take an event: a handler is called with one "
                    "argument, the event (def handler(event): ..., or lambda event: ...)"
                )
            raise UserError(
                f"{what}: {name} is a generator function: called with each event, it would only make a generator, "
                "and its body would never run. Drop its `yield` (a handler is called, and awaited if async), or "
                "iterate orchestrator.run_stream(...) to consume the events as they come"
            )
    raise UserError(
        (
            "on_event must be a function taking an event (or a list of them)"
            if what == "on_event"
            else f"{what}: a handler must be a function taking an event"
        )
        + f", not {type(on_event).__name__} {on_event!r}"
    )


def _takes_an_event(fn: object) -> bool:
    """Whether `fn` can be called with one positional argument, the event. A plain function or method is read from its
    code (a few attributes: a run's `on_event=` is checked at each run); a `functools.partial` or an object with a
    `__call__` from its signature; a builtin, whose signature may not be known, is taken as it is."""
    bound = inspect.ismethod(fn)
    function = getattr(fn, "__func__", None) if bound else fn
    if inspect.isfunction(function):
        code = function.__code__
        positional = code.co_argcount - bound  # (a bound method's first argument is given)
        required = positional - len(function.__defaults__ or ())
        kw_only = code.co_kwonlyargcount - len(function.__kwdefaults__ or {})
        return kw_only == 0 and required <= 1 and (positional >= 1 or bool(code.co_flags & inspect.CO_VARARGS))
    if inspect.isbuiltin(fn) or isinstance(fn, type):
        return True
    try:
        inspect.signature(fn).bind(None)  # type: ignore[arg-type]
    except TypeError:
        return False
    except ValueError:  # (no signature to be read)
        return True
    return True


def _shown_signature(fn: object) -> str:
    """`fn`'s parameters (`(a, b)`, without their annotations), or nothing when they cannot be read."""
    try:
        signature = inspect.signature(fn)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    empty = inspect.Parameter.empty
    plain = [p.replace(annotation=empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=plain, return_annotation=empty))


def _generator_function(fn: object) -> bool:
    """Whether calling `fn` makes a generator (a `functools.partial` of one, or an object whose `__call__` is one)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    call = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else getattr(fn, "__call__", None)  # noqa: B004
    return inspect.isgeneratorfunction(call) or inspect.isasyncgenfunction(call)


def check_delta_sink(on_delta: object) -> None:
    """`UserError` unless `on_delta` is None or a plain function: it is called with each `AnswerDelta`, never awaited
    (an `async def` lost every piece, with "coroutine … was never awaited"; a value that is no function failed the run
    at its first piece, after the call was paid for)."""
    if on_delta is None or (
        callable(on_delta) and not inspect.iscoroutinefunction(on_delta) and not _generator_function(on_delta)
    ):  # (a generator function's body never ran either: each piece made a generator that nothing ran)
        return
    raise UserError(
        "on_delta must be a plain function taking each AnswerDelta (called, never awaited: hand the piece on with "
        f"queue.put_nowait, say), not {type(on_delta).__name__} {on_delta!r:.60}"
    )


def preferred_names(catalog: ModelCatalog, preferred: Sequence[str]) -> list[str]:
    """The catalog's names of the `preferred` models (names or aliases), each once, or `UserError` /
    `UnknownModelError`. (An alias and its model's name, `["gpt4", "openai:gpt-4.1"]`, were stored as the name twice.)
    """
    if isinstance(preferred, str):
        raise UserError(f"preferred_models is a list of model names: write preferred_models=[{preferred!r}]")
    if not isinstance(preferred, Iterable) or isinstance(preferred, bytes | Mapping):  # ("'int' object is not
        raise UserError(  # iterable")
            f"preferred_models is a list of model names, not {type(preferred).__name__} {preferred!r:.60}"
        )
    preferred = list(preferred)  # (read once: a numpy array failed `not` with "The truth value of an array …")
    if not preferred:
        raise UserError("preferred_models is empty: name at least one model or leave it unset")
    return list(dict.fromkeys(catalog.get(n).name for n in preferred))


def check_prompt(prompt: object) -> str:
    """`prompt`, when it is text that is not blank."""
    if not isinstance(prompt, str):
        raise UserError(f"the prompt must be text (a string), not {type(prompt).__name__}")
    if blank(prompt):
        raise UserError("the prompt is empty: give the text to orchestrate")
    return prompt


def first_error(exc: ValidationError) -> str:
    """The first error of `exc`, as "<field path>: <message>" (`stop_sequences[0]`, an item by its index)."""
    err = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    msg = str(err["msg"])
    ctx = err.get("ctx") or {}
    if err["type"] == "too_long" and "max_length" in ctx and "actual_length" in ctx:  # (pydantic: "Tuple should have
        msg = f"at most {ctx['max_length']} items, not {ctx['actual_length']}"  # at most 4 items after validation")
    return f"{where}: {msg}" if where else msg


def check_numbers(**values: object) -> None:
    """`UserError` for a numeric setting given as a boolean or as text (`cost_limit=True` would be a $1 budget,
    `max_iterations="3"` a string read as a number), or as NaN: the first one, with what to write instead."""
    for name, value in values.items():
        if value is None or type(value) is int or (type(value) is float and value == value):  # (the common cases)
            continue
        if isinstance(value, bool | str | bytes):
            raise UserError(f"{name} must be a number, not {type(value).__name__} {value!r}")
        if _nan(value):  # NaN: pydantic would say it is not <= the maximum (NumPy's float32 and Decimal's too)
            raise UserError(f"{name} must be a number, not NaN")


def _nan(value: object) -> bool:
    """Whether `value` is a NaN of any numeric type (`float("nan")`, `numpy.float32("nan")`, `Decimal("NaN")`)."""
    try:
        return bool(value != value)
    except (ArithmeticError, TypeError, ValueError):  # (a signalling NaN refuses to compare; an array to be a bool)
        return False


def check_where(session: object, thread: object, user_id: object = None) -> None:
    """`UserError` unless `session` and `thread` are each None, a record or its id, and `user_id` None or a user id."""
    if user_id is not None and not isinstance(user_id, str):
        raise UserError(f"user_id must be a string, not {type(user_id).__name__} {user_id!r}")
    if user_id is not None and not user_id.strip():
        raise UserError("user_id must not be empty")
    if user_id is not None:
        check_text("user_id", user_id)
    if session is not None and not isinstance(session, Session | str):
        raise UserError(f"session must be a Session or a session id, not {type(session).__name__} {session!r}")
    if thread is not None and not isinstance(thread, Thread | str):
        raise UserError(f"thread must be a Thread or a thread id, not {type(thread).__name__} {thread!r}")


def check_owner(session: Session, user_id: str | None) -> None:
    """`UserError` when `user_id` is given and is not the user of `session`: the run would be stored as the
    session's, not as `user_id`'s. One id in two Unicode forms (`zoë` composed or decomposed) is one user."""
    if user_id is not None and not same_user(user_id, session.user_id):
        raise UserError(
            f"user_id {user_id!r} is not the user of session {session.id} ({session.user_id!r}): leave user_id out "
            f"to run in that session, or leave session and thread out to start a session of {user_id!r}"
        )


def inactive_session(session: Session) -> str:
    """Why no orchestration starts in `session` (not `active`): `Conflict`'s message, and the `error` of a run
    refused by `Store.start` (its caller's `Session` was stale)."""
    return f"session {session.id} is {session.status}: orchestrations start only in an active session"


def validated_settings(**values: Any) -> OrchestrationSettings:
    """`OrchestrationSettings` of the values given (None: the default), or `UserError` naming the first bad one.

    Settings of plain values (numbers, model names, no stop sequences) are validated once: the same values again get a
    copy of those (each run's its own), in about a tenth of the time (a run's settings are mostly the same as the last
    run's)."""
    key = _settings_key(values)
    if key is not None and (known := _SETTINGS.get(key)) is not None:
        return _settings_copy(known)
    check_numbers(**{k: v for k, v in values.items() if k not in ("preferred_models", "stop_sequences")})
    try:
        settings = OrchestrationSettings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise UserError(first_error(exc)) from None
    if key is not None:
        if len(_SETTINGS) >= _SETTINGS_KEPT:
            _SETTINGS.clear()
        _SETTINGS[key] = _settings_copy(settings)
    return settings


_SETTINGS: dict[tuple[object, ...], OrchestrationSettings] = {}
"""Settings validated before, by their values (`_settings_key`): copied for a run given the same ones again."""
_SETTINGS_KEPT = 256
_new = object.__new__
_set = object.__setattr__


def _settings_key(values: Mapping[str, Any]) -> tuple[object, ...] | None:
    """What `validated_settings` of `values` depends on, when each is None, an int, a float or a list of str (each value
    with its type: `True` is not `1`, nor `1.0`); None otherwise (not remembered)."""
    key: list[object] = []
    for name, value in values.items():
        kind = type(value)
        if kind is list and all(type(v) is str for v in value):
            value = tuple(value)
        elif value is not None and kind is not int and kind is not float:
            return None
        key += (name, kind, value)
    return tuple(key)


def _settings_copy(settings: OrchestrationSettings) -> OrchestrationSettings:
    """A copy of `settings` sharing nothing that changes (its list of preferred models is its own)."""
    copy = _new(OrchestrationSettings)
    fields = settings.__dict__.copy()
    if fields["preferred_models"] is not None:
        fields["preferred_models"] = list(fields["preferred_models"])
    _set(copy, "__dict__", fields)
    _set(copy, "__pydantic_fields_set__", settings.__pydantic_fields_set__.copy())
    _set(copy, "__pydantic_extra__", None)
    _set(copy, "__pydantic_private__", None)
    return copy


def check_parts(**parts: tuple[object, type | tuple[type, ...], str]) -> None:
    """Each constructor part `name=(value, expected type(s), an example)` is None or an instance of its type: a class
    given for an instance, or anything else, is a `UserError` saying what to write (it failed in the first run, with
    an `AttributeError` or a pydantic error, the run stored as failed)."""
    for name, (value, expected, example) in parts.items():
        if value is None or isinstance(value, expected):
            continue
        if isinstance(value, type):
            raise UserError(f"{name} must be an instance, not the class {value.__name__}: write {name}={example}")
        raise UserError(f"{name} must be like {example}, not {type(value).__name__} {value!r:.60}")


def check_seconds(**values: object) -> None:
    """Each value a finite number of seconds (`UserError` naming it otherwise); > 0 for `lease_ttl_s`."""
    for name, value in values.items():
        ok = is_real(value) and 0 <= value < float("inf")  # type: ignore[operator]
        if not ok or (name == "lease_ttl_s" and value == 0):
            least = "> 0" if name == "lease_ttl_s" else ">= 0"
            raise UserError(f"{name} must be a finite number of seconds {least}, not {value!r}")
