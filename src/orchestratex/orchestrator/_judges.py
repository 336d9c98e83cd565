"""Judges as a budgeted choice: which models may judge an answer, what judging it may cost, and
whether a verdict is needed at all."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..catalog import ModelCatalog, ModelProfile, model_identity
from ..evaluation import EvaluationTask, LLMJudgeEvaluator
from ..exceptions import UnknownPriceError
from ..providers import Generation, GenerationRequest, Message
from ..providers._base import counted_input_tokens, estimate_message_tokens, least_output_tokens
from ..usage import PICO, add_costs
from ._surcharges import surcharged

if TYPE_CHECKING:
    from ..records import Orchestration
    from ._run_state import RunState
    from .orchestrator import Orchestrator

__all__ = ["JudgePlanner", "Judging", "SharedPrices", "answer_room", "judges_for"]

Judging = Literal["always", "when_needed", "when_possible"]
"""`always`: every answer is judged. `when_needed`: an answer whose verdict cannot change the outcome
(the last iteration allowed, with no earlier answer to compare it with — e.g. `max_iterations=1`) is
returned unjudged, saving the judges' cost (its score is then None and the router learns nothing).
`when_possible`: every answer is judged, but an answer no judge gave a verdict on (every judge failed, none fitted
the budget or could read it) ends the run with that answer returned unjudged rather than dropped; before any answer
is judged, a model no judge could judge (none left, none's window holds it) answers when no other model can, nothing
kept aside for judging it."""

_RUBRIC_ALLOWANCE = 1200
"""Bytes allowed for the rubric and framing of a judge prompt when the evaluator cannot build it."""
_BYTES_PER_TOKEN_ESTIMATE = 4
_CONVERSATION_FRAMING = 64
"""Characters of the judge prompt's heading for a conversation ("CONVERSATION SO FAR ...")."""
_VERBATIM = LLMJudgeEvaluator.build_request
"""An evaluator's `build_request` known to put the answer in its request once, verbatim."""


def _verbatim(evaluator: object) -> LLMJudgeEvaluator | None:
    """`evaluator` when its requests are its `_messages` (the answer once, verbatim) and nothing else to count."""
    if isinstance(evaluator, LLMJudgeEvaluator) and type(evaluator).build_request is _VERBATIM:
        return evaluator
    return None


def _judge_messages(
    evaluator: LLMJudgeEvaluator, prompt: str, context: str | None, history: Sequence[Message], answer: str
) -> tuple[int, tuple[Message, Message]]:
    """(4-bytes-a-token estimate, messages) of `evaluator`'s judge requests for `answer`: every judge's request holds
    these two messages, and a provider whose count depends on nothing else (`Provider._message_bound`) counts them
    without a request."""
    built, system = evaluator._messages(prompt, context, history, answer)
    return (len(system.content) + len(built.user.content)) // _BYTES_PER_TOKEN_ESTIMATE, (system, built.user)


_NO_TWINS: frozenset[str] = frozenset()
_TWINS: weakref.WeakKeyDictionary[ModelCatalog, tuple[int, dict[str, frozenset[str]]]] = weakref.WeakKeyDictionary()
"""Per catalog, at its version: each model that has twins (the same model behind other endpoints), with their names."""


def _twins_of(catalog: ModelCatalog) -> dict[str, frozenset[str]]:
    by_identity: dict[str, list[str]] = {}
    for model in catalog:
        by_identity.setdefault(model_identity(model), []).append(model.name)
    return {
        name: frozenset(n for n in names if n != name)
        for names in by_identity.values()
        if len(names) > 1
        for name in names
    }


def _twins_in(catalog: ModelCatalog, author: str) -> frozenset[str]:
    """The names of `author`'s twins in `catalog` (the same model behind other endpoints: none, in all but a catalog
    serving one model twice), known once per catalog version."""
    known = _TWINS.get(catalog)
    if known is None or known[0] != catalog.version:
        known = _TWINS[catalog] = (catalog.version, _twins_of(catalog))
    return known[1].get(author, _NO_TWINS)


def _judge_text_tokens(doc: Orchestration) -> int:
    """What a judge reads of a run besides the answer, by a 4-bytes-a-token estimate: the prompt, its context, the
    conversation before it and the rubric."""
    history = _history_chars(doc.messages[:-1])  # (a judge reads the conversation before the prompt too)
    return (len(doc.prompt) + len(doc.context or "") + history + _RUBRIC_ALLOWANCE) // _BYTES_PER_TOKEN_ESTIMATE


def _judge_cap(o: Orchestrator, evaluator: object, judge: ModelProfile) -> int:
    """`JudgePlanner.judge_cap` for the orchestrator `o` and the evaluator `evaluator`."""
    limit = o.judge_max_output_tokens
    if isinstance(evaluator, LLMJudgeEvaluator):
        limit = min(limit, evaluator.max_output_tokens)
    cap = o.output_lengths.cap(judge, "judge", limit)[0]
    least = least_output_tokens(o.provider_for(judge), judge)
    return cap if cap >= least else least


def judges_for(o: Orchestrator, author: ModelProfile, judges: Sequence[ModelProfile]) -> list[ModelProfile]:
    """The models of `judges` (a run's judge set) that may judge `author`'s answers, as a run's planner offers them
    (`JudgePlanner.pool`, circuits aside): those the evaluator admits (its pinned judges), never the author nor its
    twin (the same model behind another endpoint)."""
    evaluator = o.evaluator
    pins = evaluator if isinstance(evaluator, LLMJudgeEvaluator) and evaluator.pinned is not None else None
    twins = _twins_in(o.catalog, author.name)
    return [m for m in judges if m.name != author.name and m.name not in twins and (pins is None or pins.admits(m))]


def answer_room(
    o: Orchestrator, doc: Orchestration, authors: Sequence[ModelProfile], judges: Sequence[ModelProfile]
) -> int | None:
    """The longest answer (in tokens) by one of `authors` that a judge of `judges` who may judge it (`judges_for`, its
    circuit closed) can read with the run's conversation, its rubric and its verdict, as a run's `JudgePlanner`
    reckons a judge's room (`_ranking`). None when no judge can read an answer. (`/v1` asks a call that sent no
    `max_tokens` for no longer an answer.)"""
    text = _judge_text_tokens(doc)
    rooms: dict[str, int] = {}
    best = 0
    for author in authors:
        for judge in judges_for(o, author, judges):
            room = rooms.get(judge.name)
            if room is None:
                allowed = o.circuit.allows(judge.name)
                room = rooms[judge.name] = (
                    judge.context_window - text - _judge_cap(o, o.evaluator, judge) if allowed else 0
                )
            best = max(best, room)
    return best if best >= 1 else None


def _history_chars(history: Sequence[Message]) -> int:
    """How many characters the default evaluator's judge prompt spends on `history` (the conversation before the
    prompt: a thread's earlier turns, or the turns of a list of messages)."""
    if not history:
        return 0
    return _CONVERSATION_FRAMING + sum(len(m.role) + len(m.content) + 5 for m in history)  # "[role]\n...\n\n"


class JudgePlanner:
    """The judge side of one run's budget."""

    def __init__(self, run: RunState) -> None:
        self.run = run
        self._bounds: dict[tuple[str, int, int], int] = {}
        # One routing decision's judging prices: the judges that may judge (before excluding the author) and,
        # per answer cap, the worst case of each judge whose window holds the judge prompt. Valid while nothing
        # changes the circuit, the failures, the learned caps or the catalog: see `decision`.
        self._judges: list[ModelProfile] | None = None
        self._ranked: dict[int, list[tuple[float, str]]] = {}
        """Per answer cap: every judge whose window fits, cheapest first, with its worst case."""
        self._capped: dict[str, tuple[GenerationRequest, GenerationRequest]] = {}
        """Per judge: the last request `request` capped, and its capped copy."""
        self._terms: dict[str, _Terms] = {}
        """Per judge, what `_ranking` reads of it, looked up once per decision."""
        self._reserves: dict[tuple[str, int], float | None] | None = None
        """`reserve_for`'s answers, per (author, answer cap), when the decision shares them (`SharedPrices`)."""
        self.fits: dict[tuple[str, int, int, int, float | None], tuple[int, float] | None] | None = None
        """`Candidates._fit`'s answers in this decision (the chosen model's request is fitted as its candidacy was);
        None between decisions."""
        self._state: tuple[int, int, int, int, int] | None = None
        self._pinned: tuple[list[ModelProfile], tuple[str, ...], list[ModelProfile]] | None = None
        """(the run's judge set, the evaluator's pinned judges, the models of the set it pins): see `judge_set`."""

    def decision(self) -> None:
        """Start a routing decision (call before pricing candidates, with no await until the decision is made):
        forget the judging prices of the previous one, unless nothing they depend on has changed since — the
        catalog, the learned output caps and surcharges and the run's failed models (candidates and judges) the same,
        no circuit open or half-open (the run's judges and prompt are fixed)."""
        o = self.run.o
        state = (
            o.catalog.version,
            o.output_lengths.version,
            o._surcharges.version,
            len(self.run.failed),
            len(self.run.not_judging),
        )
        quiet = self.run.circuit.quiet
        if quiet and state == self._state:  # (the decision under way, or one priced since with nothing changed)
            return
        self.decided()
        if not quiet:  # prices made with a circuit open are kept for this decision only
            return
        self._state = state
        if (
            not self.run.not_judging
        ):  # every judge of the judge set may judge: priced as for the orchestrator's other runs
            shared = o._shared_prices.tables(self.run)
            if shared is not None:
                self._terms, self._ranked, self._reserves = shared

    def decided(self) -> None:
        """The decision's generation is priced: drop its judging prices rather than hold them while the model answers
        (`decision` drops them too when they are stale; a run holds about 1 KB less in flight). Tables shared with the
        orchestrator's other runs are let go, not emptied."""
        self._judges = None
        self._ranked = {}
        self._terms = {}
        self._reserves = None
        self.fits = None
        self._state = None

    def detach(self) -> None:
        """The run has ended: drop the planner's reference to it, the one cycle between a run and its parts, so the
        run and its records are freed as soon as the caller drops them rather than by the cyclic collector."""
        self.__dict__.pop("run", None)

    @property
    def judging(self) -> Judging:
        return self.run.judging

    def needed(self, index: int) -> bool:
        """Whether iteration `index`'s answer must be judged (see `Judging`)."""
        if self.judging != "when_needed":
            return True
        doc = self.run.doc
        if index < doc.settings.max_iterations:
            return True
        return any(it.response is not None and it.index != index for it in doc.iterations)

    def pool(self, author: str) -> list[ModelProfile]:
        """Models that may judge `author`'s answer: the judge set, never the author (nor the same model behind another
        endpoint: `twin`), circuit closed, not failed in a way that rules out judging (a model whose own answer came
        back empty may judge another's: `_failures`)."""
        run = self.run
        twins = self._twins(author)
        return [
            m
            for m in self.judge_set()
            if m.name != author and run.circuit.allows(m.name) and m.name not in run.not_judging and m.name not in twins
        ]

    def why_none(self, author: str) -> str:
        """Why no model may judge `author`'s answer (its `pool` is empty), though one could when `author` was picked
        (it was a candidate only then): what has ruled out each model of the judge set since — the catalog (removed,
        disabled), its circuit, or its failure as a judge in this run. "" when none of these says."""
        from ._checks import _unusable_judges  # (only when a run has lost its judges)

        run = self.run
        twins = self._twins(author)
        # (every model may judge: those disabled; not the models no configured provider serves, which never could)
        names = run.judges or [m.name for m in run.o.catalog if m.status == "disabled"]
        reasons = [_unusable_judges(run.o, [n for n in names if n != author and n not in twins])]
        pool = [m for m in self.judge_set() if m.name != author and m.name not in twins]
        cooling = [m.name for m in pool if not run.circuit.allows(m.name)]
        failed = [m.name for m in pool if m.name in run.not_judging and run.circuit.allows(m.name)]
        if cooling:
            reasons.append(f"cooling down after repeated failures: {', '.join(cooling)}")
        if failed:
            reasons.append(f"failed as a judge in this run: {', '.join(failed)}")
        return "; ".join(r for r in reasons if r)

    def twin(self, judge: ModelProfile, author: str) -> bool:
        """Whether `judge` is `author` behind another endpoint (`catalog.model_identity`): it judges `author`'s
        answers no more than `author` itself does."""
        return judge.name in self._twins(author)

    def _twins(self, author: str) -> frozenset[str]:
        """The names of `author`'s twins in the catalog (none, in all but a catalog serving one model twice)."""
        return _twins_in(self.run.o.catalog, author)

    def judge_set(self) -> list[ModelProfile]:
        """The models that may judge in this run: the run's judge set, narrowed to the judges the evaluator pins
        (`LLMJudgeEvaluator(judges=[...])`), so that a model is routed to only if a judge it would get can judge it."""
        run = self.run
        models = run.o._judge_pool(run.judges)
        evaluator = run.evaluator
        if not isinstance(evaluator, LLMJudgeEvaluator) or evaluator.pinned is None:
            return models
        pins = tuple(evaluator.pinned)
        kept = self._pinned
        if kept is None or kept[0] is not models or kept[1] != pins:
            kept = self._pinned = (models, pins, [m for m in models if evaluator.admits(m)])
        return kept[2]

    def judge_cap(self, judge: ModelProfile) -> int:
        """The output cap of `judge`'s request: its learned cap within the orchestrator's `judge_max_output_tokens`
        and the default evaluator's `max_output_tokens` (the request it builds asks no more), so the judging
        reserve prices what the judge may write, not more; never below what its provider's API takes
        (`Provider.min_output_tokens`: the request is sent that much)."""
        return _judge_cap(self.run.o, self.run.evaluator, judge)

    def judge_limit(self, judge: ModelProfile) -> int:
        """The most `judge` may write for a verdict: `judge_cap`'s limit, which its learned cap grows to at most."""
        o, evaluator = self.run.o, self.run.evaluator
        limit = o.judge_max_output_tokens
        if isinstance(evaluator, LLMJudgeEvaluator):
            limit = min(limit, evaluator.max_output_tokens)
        return max(min(limit, judge.max_output_tokens), 1)

    def reserve_for(self, author: str, answer_cap: int) -> float | None:
        """What to keep for judging an answer of up to `answer_cap` tokens by `author`: the cheapest panel
        (at its worst case) among the judges whose window fits the judge prompt; None when no judge fits
        the window (the answer could never be judged: do not pay for it). Remembered for the decision, and for the
        orchestrator's other runs of the same prompt while nothing it depends on changes (`SharedPrices`)."""
        reserves = self._reserves
        if reserves is None:
            return self._reserve_anew(author, answer_cap)
        key = (author, answer_cap)
        try:
            return reserves[key]
        except KeyError:
            found = reserves[key] = self._reserve_anew(author, answer_cap)
            return found

    def _reserve_anew(self, author: str, answer_cap: int) -> float | None:
        run = self.run
        if self._judges is None:  # (the first judge priced in this decision: see `decision`, which callers start)
            self._judges = [m for m in self.judge_set() if run.circuit.allows(m.name) and m.name not in run.not_judging]
        ranked = self._ranked.get(answer_cap)
        if ranked is None:  # priced once per cap for every candidate author (a judge's price is the author's too)
            ranked = self._ranked[answer_cap] = self._ranking(self._judges, author, answer_cap)
        twins = self._twins(author)  # (the author behind another endpoint: no seat on its panel)
        pool = [m for m in self._judges if m.name != author and m.name not in twins]
        panel = run.evaluator.panel_size_for(pool)
        if panel <= 0:  # an evaluator that calls no model (a rubric, a test): nothing to keep for judging
            return 0.0
        costs = [cost for cost, name in ranked if name != author and name not in twins][:panel]
        if not costs:
            return None
        return add_costs(*costs)

    def _ranking(self, judges: list[ModelProfile], author: str, answer_cap: int) -> list[tuple[float, str]]:
        """(worst case, name) of each judge whose window holds the judge prompt and an answer of up to `answer_cap`
        tokens (by a 4-bytes-a-token estimate), cheapest first. What it reads of a judge is looked up once per
        decision: a decision prices every judge for each distinct answer cap of its candidates."""
        text = _judge_text_tokens(self.run.doc)  # (`answer_room` reckons a judge's room alike)
        bounds, ranked, surcharges = self._bounds, [], self.run.o._surcharges.ratios
        for judge in judges:
            window, cap, provider, provider_id, prices = self._terms.get(judge.name) or self._judge_terms(judge)
            if text + answer_cap + cap > window:
                continue
            bound = bounds.get((provider, provider_id, answer_cap))
            if bound is None:
                bound = self._input_bound(judge, author, answer_cap)
            if prices is None:
                cost = judge.worst_case_cost(bound, cap)
            else:  # `worst_case_cost` with integer pico-dollar prices
                cost = (bound * prices[0] + cap * prices[1]) / PICO
            if surcharges and (ratio := surcharges.get(judge.name)) is not None:  # (billed above its catalog price)
                cost = surcharged(cost, ratio)
            ranked.append((cost, judge.name))
        ranked.sort()
        return ranked

    def _judge_terms(self, judge: ModelProfile) -> _Terms:
        cap = self.judge_cap(judge)  # (the learned caps are remembered while no quantile moves)
        provider = self.run.o.provider_for(judge)
        try:
            prices = judge._pico_prices()
        except UnknownPriceError:  # (`worst_case_cost` raises it if the judge's window fits)
            prices = None
        terms = (judge.context_window, cap, provider.name, id(provider), None if prices is None else prices[:2])
        self._terms[judge.name] = terms
        return terms

    def _input_bound(self, judge: ModelProfile, author: str, answer_cap: int) -> int:
        """The judge's input bound for an answer of `answer_cap` tokens, counted by the judge's provider on a
        stand-in answer ("x " repeated: one token per character pair for a tokenizer or a 4-characters
        estimate, four bytes per token for a byte bound) — cached per provider and answer length.

        With the default evaluator's requests, which hold the answer once, verbatim, no request is built when the
        provider counts messages alone (`Provider._message_bound`); with a byte bound, the bound is the bound with
        an empty answer plus the stand-in's bytes: counted once per run."""
        provider = self.run.o.provider_for(judge)
        key = (provider.name, id(provider), answer_cap)
        bound = self._bounds.get(key)
        if bound is not None:
            return bound
        evaluator = _verbatim(self.run.evaluator)
        doc = self.run.doc
        if evaluator is not None and provider._counts_bytes():
            empty = ("", 0, -1)  # the same for every byte-counting provider
            if empty not in self._bounds:
                messages = _judge_messages(evaluator, doc.prompt, doc.context, tuple(doc.messages[:-1]), "")[1]
                self._bounds[empty] = estimate_message_tokens(messages)
            bound = self._bounds[empty] + 4 * answer_cap  # "x " * 2n: 4n bytes
        else:
            stand_in = "x " * (2 * answer_cap)
            if evaluator is not None:
                messages = _judge_messages(evaluator, doc.prompt, doc.context, tuple(doc.messages[:-1]), stand_in)[1]
                bound = provider._message_bound(messages)
            if bound is None:
                bound = counted_input_tokens(provider, self._stand_in(judge, author, stand_in))
        self._bounds[key] = bound
        return bound

    def _stand_in(self, judge: ModelProfile, author: str, answer: str) -> GenerationRequest:
        """The judge's request for `answer` by `author` to this run's prompt, as the evaluator would build it."""
        doc = self.run.doc
        etask = EvaluationTask(
            prompt=doc.prompt,
            domain=doc.domain or "general",
            generating_model=author,
            judges=(),
            call=_no_call,
            context=doc.context,
            max_output_tokens=self.run.o.judge_max_output_tokens,
            history=tuple(doc.messages[:-1]),
        )
        return self.request(etask, judge, answer, sent=False)

    def eligible(self, etask: EvaluationTask, answer: str, budget: float | None) -> list[ModelProfile]:
        """The judges offered to the evaluator for this answer: window fits the actual judge prompt and its
        worst case fits `budget` (what is left, the judges' pre-reservation included). With the default evaluator
        and a provider that counts messages alone (`Provider._message_bound`: a byte bound, the simulator), the
        judge prompt is counted once per provider for all its judges and no request is built (the evaluator builds
        those of the judges it asks); otherwise each judge's request is built and counted."""
        run = self.run
        self._capped.clear()  # (copies made for an earlier answer)
        verbatim = _verbatim(run.evaluator)
        counted: tuple[int, tuple[Message, Message]] | None = None
        bounds: dict[int, int | None] = {}  # per provider: its count of those messages, when it needs no request
        out, surcharges = [], run.o._surcharges
        for judge in etask.judges:
            provider = run.o.provider_for(judge)
            worst: float | None = None
            if verbatim is not None:  # what its request would say, without building it when its provider can
                if counted is None:
                    counted = _judge_messages(verbatim, etask.prompt, etask.context, etask.history, answer)
                key = id(provider)
                if key not in bounds:
                    bounds[key] = provider._message_bound(counted[1])
                bound = bounds[key]
                if bound is not None:
                    # (`request`'s cap: the evaluator's request capped at the judge's learned cap)
                    max_output = min(
                        etask.max_output_tokens,
                        verbatim.max_output_tokens,
                        judge.max_output_tokens,
                        self.judge_cap(judge),
                    )
                    if counted[0] + max_output > judge.context_window:
                        continue
                    worst = surcharges.worst(judge.name, judge.worst_case_cost(bound, max_output))
            if worst is None:
                request = self.request(etask, judge, answer)
                estimate = sum(len(m.content) for m in request.messages) // _BYTES_PER_TOKEN_ESTIMATE
                if estimate + request.max_output_tokens > judge.context_window:
                    continue
                worst = surcharges.worst(
                    judge.name,
                    judge.worst_case_cost(counted_input_tokens(provider, request), request.max_output_tokens),
                )
            if budget is None or worst <= budget + 1e-12:
                out.append(judge)
        return out

    def request(
        self, etask: EvaluationTask, judge: ModelProfile, answer: str, *, sent: bool = True
    ) -> GenerationRequest:
        """The judge's request as the evaluator builds it (an estimate when it cannot say), with its cap; unless
        `sent` is false (a stand-in, only priced), its capped copy is kept for `with_cap`."""
        cap = min(etask.max_output_tokens, self.judge_cap(judge))
        try:
            request = self.run.evaluator.build_request(etask, judge, answer)
        except NotImplementedError:
            framing = "x" * _RUBRIC_ALLOWANCE
            text = f"{framing}{etask.prompt}{etask.context or ''}{answer}"
            return GenerationRequest(
                model=judge, messages=[Message(role="user", content=text)], max_output_tokens=cap, purpose="judge"
            )
        if request.max_output_tokens <= cap:
            return request
        capped = request.model_copy(update={"max_output_tokens": cap})
        if sent:
            self._capped[judge.name] = (request, capped)
        return capped

    def with_cap(self, judge: ModelProfile, request: GenerationRequest, cap: int) -> GenerationRequest:
        """`request` (for `judge`, over `cap`) capped at `cap`: the copy `request` made of this very request
        (an evaluator sends the requests it built while the judges were priced), else a new copy."""
        found = self._capped.pop(judge.name, None)
        if found is not None and found[0] is request and found[1].max_output_tokens == cap:
            return found[1]
        return request.model_copy(update={"max_output_tokens": cap})


_SHARED_TEXT = 4096
"""The longest prompt (and context) whose judging prices the runs share: what `SharedPrices` keeps of each prompt it
prices is its text, at most `_SHARED_PROMPTS` of them."""
_SHARED_PROMPTS = 128


class SharedPrices:
    """The judging prices an orchestrator's runs share: what pricing the judges of an answer reads of each judge (its
    window, cap, provider and prices), and per prompt the judges' worst cases for each answer cap and the judging
    reserve of each author and cap (`JudgePlanner.reserve_for`). They are the same for every run of the same prompt
    (with its context and domain) while the catalog, the learned output caps, the surcharges, the providers, the
    evaluator's settings and the run's judge set are: a run starting while another of the same prompt has priced its
    candidates reads their prices instead of computing them again (about a tenth of the CPU time a run spends before its
    first call). Shared only with the default evaluator (its requests hold the answer once, verbatim; its panel size),
    while every circuit is closed and no judge failed in the run; a run of a conversation, or of a prompt longer than
    `_SHARED_TEXT`, or with a provider that counts tokens its own way (a tokenizer, the simulator), shares the judges'
    terms only. What the providers say of the judges (their least output cap, whether they count bytes) is asked at
    each decision. A change to anything the prices depend on starts new tables; a run that priced with the old ones
    goes on with them until its next decision, as it did with its own."""

    __slots__ = ("_prompts", "_state", "terms")

    def __init__(self) -> None:
        self._state: tuple[object, ...] | None = None
        self.terms: dict[str, _Terms] = {}
        self._prompts: dict[tuple[str, str | None, str | None], _Tables] = {}

    def tables(self, run: RunState) -> tuple[dict[str, _Terms], dict[int, list[tuple[float, str]]], _Reserves] | None:
        """The tables `run`'s judge planner prices with in this decision (its caller has checked that every circuit is
        closed and no judge failed in the run), or None when the run's judging is priced for it alone."""
        evaluator = _verbatim(run.evaluator)
        if evaluator is None or type(evaluator).panel_size_for is not _PANEL_SIZE_FOR:
            return None
        o = run.o
        catalog, lengths, surcharges, pinned = o.catalog, o.output_lengths, o._surcharges, evaluator.pinned
        pool, providers = o._judge_pool(run.judges), o._providers
        # what the judges' providers say, read at each decision: a provider may learn a model's least cap (OpenAI's,
        # from a refusal), and a `FunctionProvider` be given a tokenizer (`count_tokens`) between runs
        floors = tuple(least_output_tokens(providers[m.provider], m) for m in pool if m.provider in providers)
        counts = tuple(p._counts_bytes() for p in providers.values())
        state = (
            catalog,
            catalog.version,
            lengths,
            lengths.version,
            surcharges,
            surcharges.version,
            evaluator,
            evaluator.panel_size,
            evaluator.max_output_tokens,
            evaluator.rubric,
            None if pinned is None else tuple(pinned),
            o.judge_max_output_tokens,
            pool,
            tuple(providers.values()),
            floors,
            counts,
        )
        if state != self._state:  # (new tables: a run still pricing with the old ones writes only to those)
            self._state, self.terms, self._prompts = state, {}, {}
        doc = run.doc
        context = doc.context
        if (
            doc.messages
            or len(doc.prompt) + (len(context) if context else 0) > _SHARED_TEXT
            or not all(counts)  # (a provider with a count of its own: its judges' bounds are counted for each run)
        ):
            return self.terms, {}, {}
        key = (doc.prompt, context, doc.domain)
        tables = self._prompts.get(key)
        if tables is None:
            if len(self._prompts) >= _SHARED_PROMPTS:
                self._prompts = {}
            tables = self._prompts[key] = ({}, {})
        return self.terms, tables[0], tables[1]


_PANEL_SIZE_FOR = LLMJudgeEvaluator.panel_size_for
_Reserves = dict[tuple[str, int], "float | None"]
_Tables = tuple[dict[int, list[tuple[float, str]]], _Reserves]

_Terms = tuple[int, int, str, int, "tuple[int, int] | None"]
"""What pricing a judge reads of it: its window, its output cap, its provider (name and id: the key of `_bounds`)
and its prices per token in pico-dollars (None when not whole pico-dollars: `worst_case_cost` then decides). A
plain tuple of atomic values, which the cyclic garbage collector stops tracking."""


async def _no_call(judge: ModelProfile, request: GenerationRequest) -> Generation:
    raise AssertionError("a stand-in task used to price judging is never evaluated")
