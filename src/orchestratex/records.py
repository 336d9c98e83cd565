"""The documents OrchestrateX keeps: sessions, threads, orchestrations and their iterations.

Every document has an `id` (serialised as `_id`, a 24-hex ObjectId string), `created_at` and
`updated_at`, as the REST API shows them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._ids import new_id, utcnow
from ._timestamps import Timestamp
from .providers._base import Message
from .usage import MAX_AMOUNT, Usage

__all__ = [
    "TERMINAL_ORCHESTRATION_STATUSES",
    "ApiKey",
    "CallRecord",
    "Document",
    "Evaluation",
    "Iteration",
    "JudgeVerdict",
    "Orchestration",
    "OrchestrationSettings",
    "OrchestrationStatus",
    "RoutingDecision",
    "Session",
    "SessionSettings",
    "SessionStatus",
    "StopReason",
    "Thread",
]

SessionStatus = Literal["active", "paused", "completed", "cancelled"]
"""A session's status: only an `active` session starts orchestrations."""
OrchestrationStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
"""An orchestration's status: `pending` (prepared), `running`, then one of `TERMINAL_ORCHESTRATION_STATUSES`."""
StopReason = Literal["threshold", "max_iterations", "budget", "no_improvement", "cancelled", "error"]
"""Why an orchestration stopped (`Orchestration.stop_reason`)."""
TERMINAL_ORCHESTRATION_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""The statuses of an orchestration that has ended."""


class Document(BaseModel):
    """Fields every stored document has."""

    model_config = ConfigDict(populate_by_name=True, validate_assignment=False, defer_build=True)

    id: str = Field(default_factory=new_id, alias="_id")
    """A 24-hex ObjectId string (`_id` in JSON)."""
    created_at: Timestamp = Field(default_factory=utcnow)
    """When the document was created (UTC)."""
    updated_at: Timestamp = Field(default_factory=utcnow)
    """When the document last changed: at its creation, the very instant of `created_at`."""

    def model_post_init(self, context: Any, /) -> None:
        # A new document changed when it was created: the same instant, not a second reading of the clock. (Not a
        # `default_factory` reading the validated data: pydantic 2.7 to 2.9, which this package accepts, call it with
        # no argument, and every new session failed.)
        if "updated_at" not in self.__pydantic_fields_set__:
            self.__dict__["updated_at"] = self.created_at


class SessionSettings(BaseModel):
    """Settings that apply to every orchestration of a session."""

    model_config = ConfigDict(defer_build=True)

    preferred_models: list[str] | None = None
    """Route only among these models (names or aliases); all active models when unset."""
    cost_limit: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """US dollars the session may spend in all; spending never exceeds it. Unlimited when unset."""
    judges: list[str] | None = None
    """Models that may judge this session's answers (names or aliases); the orchestrator's `judges` when unset."""
    judging: Literal["always", "when_needed", "when_possible"] | None = None
    """`when_needed` returns an answer unjudged when no decision depends on its verdict (the last iteration
    allowed, nothing earlier to compare with); `when_possible` returns one unjudged when no judge gave a verdict on
    it, rather than dropping it; the orchestrator's `judging` when unset."""


class Session(Document):
    """A user's working session: a budget and defaults shared by its threads and orchestrations."""

    user_id: str
    """The user the session belongs to."""
    session_start: Timestamp = Field(default_factory=utcnow)
    """When the session started: the instant it was created, unless given."""
    session_end: Timestamp | None = None
    """When the session ended (set `completed` or `cancelled`); None while it is open."""
    max_iterations: int = Field(default=5, ge=1, le=50)
    """The most attempts of its orchestrations that set none (1–50)."""
    status: SessionStatus = "active"
    """`active`, `paused`, `completed` or `cancelled`: orchestrations start only in an active session."""
    total_cost: float = 0.0
    """US dollars spent by the session's orchestrations (exact)."""
    reserved_cost: float = 0.0
    """US dollars reserved by calls in flight (worst case); released when each call settles."""
    settings: SessionSettings = Field(default_factory=SessionSettings)
    """The budget, preferred models and judges shared by its orchestrations."""

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if "session_start" not in self.__pydantic_fields_set__:  # (as `updated_at`: the instant of `created_at`)
            self.__dict__["session_start"] = self.created_at


class Thread(Document):
    """A conversation thread: one original prompt, its domain and context, within a session."""

    session_id: str
    """The session the thread belongs to."""
    user_id: str
    """The session's user."""
    original_prompt: str
    """The prompt the thread began with."""
    domain: str | None = None
    """The task's domain (see `orchestratex.domains`); None: each run detects it from its prompt."""
    context: str | None = None
    """Extra context given to the models with each prompt of the thread."""


class JudgeVerdict(BaseModel):
    """One judge's verdict on one answer."""

    model_config = ConfigDict(defer_build=True)

    judge_model: str
    """The judge's model name."""
    score: float | None = None
    """0–10, or None when the judge failed."""
    feedback: str = ""
    """What the judge said should improve."""
    cost: float = 0.0
    """What the judge's call is counted as costing (the provider's reported cost when given, else `catalog_cost`)."""
    catalog_cost: float | None = None
    """The call's cost at the catalog's prices."""
    reported_cost: float | None = None
    """The cost the provider reported for the call, when it reports one."""
    usage: Usage = Field(default_factory=Usage)
    """The tokens of the judge's call."""
    latency_ms: float = 0.0
    """How long the judge took to answer, in milliseconds."""
    error: str | None = None
    """Why the verdict failed (the call's error, or an answer with no score), else None."""


class Evaluation(BaseModel):
    """The aggregated verdict of a panel of judges on one answer."""

    model_config = ConfigDict(defer_build=True)

    score: float = Field(ge=0, le=10)
    """The median of the judges' scores, or `10 × probability` when the evaluator is calibrated."""
    feedback: str
    """The judges' feedback, combined: what the next attempt is asked to improve."""
    judge_models: list[str]
    """The judges whose verdict counted."""
    verdicts: list[JudgeVerdict] = Field(default_factory=list)
    """Every judge's verdict, failed ones included."""
    cost: float = 0.0
    """What the judges' calls cost."""
    raw_score: float | None = None
    """The judges' median score before calibration (set when a calibration mapped it)."""
    probability: float | None = Field(default=None, ge=0, le=1)
    """The calibrated probability that the answer is acceptable, when the evaluator has a calibration."""


class RoutingDecision(BaseModel):
    """What the router chose and why."""

    model_config = ConfigDict(defer_build=True)

    model_name: str
    """The chosen model's full name."""
    reasoning: str
    """One human-readable sentence."""
    scores: dict[str, float] = Field(default_factory=dict)
    """The router's utility for each candidate considered (higher is better)."""
    domain: str = "general"
    """The domain the router decided for."""


class Iteration(BaseModel):
    """One attempt: a model's answer to the (possibly refined) prompt and the judges' evaluation of it."""

    model_config = ConfigDict(defer_build=True)

    index: int
    """1-based."""
    model_name: str
    """The model that answered (after a fallback, the one that did)."""
    reasoning: str = ""
    """The router's reason for choosing it."""
    prompt: str
    """What the model was asked: the original prompt, or a refinement carrying the best answer so far and the judges'
    feedback."""
    phase: Literal["selected", "generated", "evaluated", "failed"] = "selected"
    """`evaluated` with no `evaluation`: the answer was returned unjudged (`judging="when_needed"`, or
    `"when_possible"` when no judge gave a verdict on it)."""
    response: str | None = None
    """The model's answer; None until it answered, or when every model failed."""
    usage: Usage = Field(default_factory=Usage)
    """The tokens of the generation."""
    cost: float = 0.0
    """The generation's cost as counted: the provider's reported cost when given, else `catalog_cost`
    (the judges' cost is in `evaluation.cost`)."""
    catalog_cost: float | None = None
    """The generation's cost at the catalog's prices."""
    reported_cost: float | None = None
    """The cost the provider reported for the generation, when it reports one."""
    failed_cost: float = 0.0
    """What the iteration's calls that gave nothing kept were billed, in neither `cost` nor `evaluation.cost`: an answer
    refused on content grounds with its usage, or empty, before the model that answered (see `errors`), and the judges
    whose verdicts were not kept (no verdict came, or the run was cancelled or suspended while they answered). The
    iterations' `cost + failed_cost + evaluation.cost` add up to the orchestration's `total_cost`."""
    latency_ms: float = 0.0
    """How long the model took to answer, in milliseconds."""
    finish_reason: str | None = None
    """Why the model stopped writing, e.g. `stop`, or `length` at its output cap."""
    evaluation: Evaluation | None = None
    """The judges' evaluation of the answer; None before it, or for an answer returned unjudged."""
    errors: list[str] = Field(default_factory=list)
    """Failed calls of this iteration, e.g. a model that failed after retries before the fallback answered."""
    failures: tuple[str, ...] = ()
    """The kind of each of `errors`, in order, to be read by a program rather than a person: the class of the
    exception tree it was (`RateLimited`, `ContextLengthExceeded`, `ModelNotFound`, …; an adapter's own subclass counts
    as its base); for a failed evaluation, the kind every judge's call failed with, else `EvaluationError`. Empty for an
    iteration stored by a version before it (its `errors` say the same in words). (A tuple: an iteration without
    failures holds no list of its own.)"""

    @property
    def score(self) -> float | None:
        """The evaluation's score (0–10), or None when the answer was not judged."""
        return self.evaluation.score if self.evaluation else None

    @property
    def tokens_used(self) -> int:
        """Input and output tokens of the generation."""
        return self.usage.total_tokens


class OrchestrationSettings(BaseModel):
    """How one orchestration runs. Unset fields take the session's (then the orchestrator's) defaults."""

    model_config = ConfigDict(defer_build=True)

    max_iterations: int = Field(default=5, ge=1, le=50)
    """The most attempts (1–50)."""
    preferred_models: list[str] | None = None
    """Route only among these models (names or aliases); all models when None."""
    evaluation_threshold: float = Field(default=8.0, ge=0, le=10)
    """The score (0–10) that ends the run once an answer reaches it."""
    cost_limit: float | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """A cap for this orchestration alone, within the session's budget."""
    max_output_tokens: int = Field(default=2048, ge=1)
    """The most each generation may produce (the worst case the budget reserves)."""
    patience: int = Field(default=2, ge=1)
    """Stop with `no_improvement` after this many refinements in a row that did not raise the best score."""
    stop_sequences: tuple[Annotated[str, Field(min_length=1)], ...] = Field(default=(), max_length=4)
    """Where the answer as delivered ends (the OpenAI-compatible endpoint's `stop`): a thread's next turn
    continues from `final_response` cut before the first of them. `final_response` stays whole, as judged."""


class Orchestration(Document):
    """One run of the orchestration loop for one prompt, with every iteration it made."""

    thread_id: str
    """The thread the orchestration belongs to."""
    session_id: str
    """The session whose budget it spends."""
    user_id: str
    """The session's user."""
    prompt: str
    """The user message being answered (the last message of `messages`)."""
    messages: list[Message] = Field(default_factory=list)
    """The conversation answered, when there is more than the prompt: system messages, earlier turns
    (given, or the thread's) and, last, the prompt as a user message. Empty for a lone prompt."""
    domain: str | None = None
    """The task's domain: given, or detected from the prompt."""
    context: str | None = None
    """Extra context given to the models with the prompt."""
    settings: OrchestrationSettings = Field(default_factory=OrchestrationSettings)
    """How the orchestration runs (iterations, threshold, models, budget)."""
    status: OrchestrationStatus = "pending"
    """`pending`, `running`, `completed`, `failed` or `cancelled`."""
    iterations: list[Iteration] = Field(default_factory=list)
    """Every attempt, in order."""
    final_response: str | None = None
    """The best-scoring answer; None when it ended without one."""
    final_score: float | None = None
    """The score of `final_response` (None for an answer returned unjudged)."""
    final_model: str | None = None
    """The model that wrote `final_response`."""
    total_cost: float = 0.0
    """Everything this orchestration spent: generations and judges (exact)."""
    stop_reason: StopReason | None = None
    """Why it stopped; None while it runs."""
    error: str | None = None
    """What went wrong, or why it stopped early, in words; None when it completed normally."""
    interrupted_calls: int = 0
    """Calls in flight when a previous process died or suspended the run, made again by the run that resumed it;
    the provider may have billed them."""
    abandoned_calls: int | None = None
    """Set while the orchestration is suspended (`Orchestrator.suspend`): the calls it had in flight (and the judges
    of a panel that had answered before the rest, whose verdicts are not kept), which the run resuming it makes again
    and adds to `interrupted_calls` (it is then None again). On a cancelled orchestration:
    the calls it had in flight when it was cancelled, which the provider may have billed (they are not counted in
    `total_cost`); None when it had none."""
    overage_cost: float = 0.0
    """The part of `total_cost` that providers billed above the worst case reserved for their calls
    (usage they reported beyond the request's bounds); see the Guarantees page."""
    usage: Usage | None = None
    """The tokens of every call counted in `total_cost`: each answer and each judge, and the failed calls a provider
    billed (an empty answer, a refusal), which no iteration holds. None for an orchestration stored by a version
    that did not count them."""

    @property
    def best_iteration(self) -> Iteration | None:
        """The iteration of the best-scoring answer (the earliest of equal scores), or of an answer returned unjudged;
        None without an answer."""
        scored = [it for it in self.iterations if it.evaluation is not None]
        if scored:
            return max(scored, key=lambda it: (it.evaluation.score, -it.index))  # type: ignore[union-attr]
        unjudged = [it for it in self.iterations if it.phase == "evaluated" and it.response is not None]
        return unjudged[-1] if unjudged else None  # an answer returned unjudged (judging="when_needed")


class CallRecord(BaseModel):
    """One model call, kept for analytics and per-model statistics."""

    model_config = ConfigDict(defer_build=True)

    orchestration_id: str
    """The orchestration that made the call."""
    session_id: str
    """The session whose budget paid for it."""
    user_id: str
    """The session's user."""
    model_name: str
    """The model called."""
    role: Literal["generate", "judge"]
    """`generate` for an answer, `judge` for a verdict."""
    domain: str
    """The orchestration's domain."""
    cost: float = 0.0
    """What the call was counted as costing (charged to the budget): `reported_cost` when the provider
    reported one, else `catalog_cost`."""
    catalog_cost: float | None = None
    """The call's cost at the catalog's prices (None for a call that failed)."""
    reported_cost: float | None = None
    """The cost the provider reported, when it reports one."""
    input_tokens: int = 0
    """Tokens the call read."""
    output_tokens: int = 0
    """Tokens the call wrote."""
    latency_ms: float = 0.0
    """How long the call took, in milliseconds."""
    score: float | None = None
    """For a generation: the evaluation's score once known; for a judge: the score it gave."""
    error: str | None = None
    """Why the call failed, else None."""
    created_at: Timestamp = Field(default_factory=utcnow)
    """When the call was recorded (UTC)."""


class ApiKey(Document):
    """An API key of the server, stored only as its SHA-256 hash."""

    key_hash: str
    """The SHA-256 hash of the key (the key itself is never stored)."""
    user_id: str
    """The user the key authenticates as."""
    admin: bool = False
    """True for a key that may act for every user."""
    label: str | None = None
    """A name for the key, to tell keys apart."""
    revoked_at: Timestamp | None = None
    """When the key was revoked (`orchestratex keys revoke`); a revoked key is refused."""
    last_used_at: Timestamp | None = None
    """When the server last authenticated a request with it (updated at most once a minute)."""
