"""`SimulatedProvider`: an offline, seeded simulator of a whole model ecosystem."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import ClassVar, Self

from ..._misspelt import refuse_misspelt
from ..._plain import is_real, is_whole
from ...catalog import ModelProfile
from ...domains import check_domain
from ...exceptions import ConfigurationError, UserError
from ...usage import Usage
from .._base import Generation, GenerationRequest, Message, Provider, TextSink
from ._faults import Faults, fault_error
from ._quality import (
    FOOTER_RE,
    answer_under_evaluation,
    footer,
    hidden_offset,
    judge_bias,
    pseudo_quality,
    specialty_bonus,
)
from ._random import Draws, digest, messages_bytes
from ._text import answer_text, judge_feedback, task_summary
from ._timing import JUDGE_OUTPUT_TOKENS, OUTPUT_TOKENS, input_tokens, latency_ms, output_tokens

__all__ = ["SimulatedProvider"]

SEED_ENV: str = "ORCHESTRATEX_SIM_SEED"
LATENCY_SCALE_ENV: str = "ORCHESTRATEX_SIM_LATENCY_SCALE"
_TRUNCATION_PENALTY = 3.0
_TRUNCATED_NOTE = " … [cut off at max_output_tokens]"
_JUDGED_RE = re.compile(r"A previous answer scored (\d+(?:\.\d+)?)/10\.")
"""The judges' score in the orchestrator's refinement prompt (`orchestrator._prompts.build_messages`)."""

Sleep = Callable[[float], Awaitable[None] | None]

_SETTINGS = ("seed", "latency_scale", "faults", "judge_noise", "quality_noise", "sleep")
"""What may be changed on a simulator in use (checked as when it is made)."""


def _clip(value: float) -> float:
    return 0.0 if value < 0.0 else 10.0 if value > 10.0 else value


def _check_number(name: str, value: object) -> float:
    if not is_real(value) or not math.isfinite(value) or value < 0:  # type: ignore[arg-type, operator]
        raise ConfigurationError(f"SimulatedProvider {name} must be a finite number >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


class SimulatedProvider(Provider):
    """Answers every request offline, as a seeded simulation of the model it is asked for.

    Each (model, domain) has a hidden quality: the catalog's `quality` prior, +0.5 in the model's
    specialties (-0.3 elsewhere) and a seeded offset the catalog does not know, so a router has
    something to learn. Every answer says plainly that it is simulated and ends with a footer
    such as `[simulated by OrchestrateX · sim:gpt-4.1 · quality 7.4/10]`; a later prompt that
    quotes it (a refinement) is answered better, and a judge prompt that quotes it is scored
    around that quality. Tokens, latency and faults are simulated too.

    Results depend only on the seed, the model and the messages: the same request gives the same
    answer whatever the call order or concurrency.
    """

    name: ClassVar[str] = "sim"
    """Serves the `sim:*` models (the simulated copy of a catalog)."""
    env_vars: ClassVar[tuple[str, ...]] = ()
    """None: the simulator needs no key."""
    simulated: ClassVar[bool] = True
    """Always True: every answer it gives is simulated, and says so."""

    def __init__(
        self,
        *,
        seed: int = 0,
        latency_scale: float = 1.0,
        faults: Faults | None = None,
        judge_noise: float = 0.5,
        quality_noise: float = 0.4,
        sleep: Sleep | None = None,
    ) -> None:
        self._offsets: dict[tuple[str, str], float] = {}
        self._biases: dict[str, float] = {}
        self._attempts: dict[bytes, int] = {}
        self.seed = seed
        """Everything the simulator draws depends on this seed."""
        self.latency_scale = latency_scale
        """Multiplies the simulated latency before sleeping (0: never sleep)."""
        self.faults = faults
        """Injected faults, or None for none."""
        self.judge_noise = judge_noise
        """Standard deviation of a judge's score around the answer's quality."""
        self.quality_noise = quality_noise
        """Standard deviation of one answer's quality around the model's hidden quality."""
        self.sleep = sleep

    @property
    def sleep(self) -> Sleep:
        """The sleep used for latency (`asyncio.sleep` unless given): an `async def`, or a plain function such as
        `delays.append`, which is not awaited."""
        return self._sleep

    @sleep.setter
    def sleep(self, sleep: Sleep | None) -> None:
        if sleep is not None and not callable(sleep):
            raise ConfigurationError(
                f"SimulatedProvider sleep must be a function taking the seconds to wait (an async def, or a plain "
                f"function such as delays.append), got {sleep!r}"
            )
        self._sleep = sleep if sleep is not None else asyncio.sleep

    def __setattr__(self, name: str, value: object) -> None:
        """The settings are checked on every assignment, as when the simulator is made (`sim.latency_scale = "0"`, a
        value read from the environment, failed every later call with a `TypeError`); a new `seed` forgets the
        hidden qualities and judge biases drawn with the old one (they were kept, so the simulator mixed two seeds)."""
        if name == "seed":
            if not is_whole(value):  # (numpy's integers too: a study's `for seed in np.arange(5)`)
                raise ConfigurationError(f"SimulatedProvider seed must be an int, got {value!r}")
            value = int(value)  # type: ignore[call-overload]
            self._offsets.clear()
            self._biases.clear()
        elif name in ("latency_scale", "judge_noise", "quality_noise"):
            value = _check_number(name, value)
        elif name == "faults" and value is not None and not isinstance(value, Faults):
            raise ConfigurationError(f"SimulatedProvider faults must be a Faults instance, got {value!r}")
        elif not name.startswith("_") and name not in _SETTINGS and type(self) is SimulatedProvider:
            # (`sim.latency_scal = 0` made an attribute nothing read: the tests went on sleeping)
            refuse_misspelt(self, name, known=_SETTINGS, error=ConfigurationError)
        object.__setattr__(self, name, value)

    # -- construction from the environment ----------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """A default simulator; `ORCHESTRATEX_SIM_SEED` and `ORCHESTRATEX_SIM_LATENCY_SCALE` override seed and scale."""
        env = os.environ if env is None else env
        seed, scale = 0, 1.0
        if raw := env.get(SEED_ENV, "").strip():
            try:
                seed = int(raw)
            except ValueError:
                raise ConfigurationError(f"{SEED_ENV} must be an integer, got {raw!r}") from None
        if raw := env.get(LATENCY_SCALE_ENV, "").strip():
            try:
                scale = float(raw)
            except ValueError:
                scale = math.nan
            if not 0 <= scale < math.inf:  # (NaN fails too)
                raise ConfigurationError(f"{LATENCY_SCALE_ENV} must be a number >= 0, got {raw!r}")
        return cls(seed=seed, latency_scale=scale)

    @classmethod
    def is_configured(cls, env: Mapping[str, str] | None = None) -> bool:
        """Always: the simulator needs no key."""
        return True

    # -- the hidden truth (for tests and benchmarks) ------------------------------------------
    def hidden_quality(self, model: ModelProfile, domain: str) -> float:
        """The quality `model` (its profile, as the catalog holds it) really has in `domain` for this seed (what a
        perfect router would know). The domain is read as a run reads it (`"CODING"` is `coding`)."""
        if not isinstance(model, ModelProfile):
            hint = f"orchestrator.catalog.get({model!r})" if isinstance(model, str) else "catalog.get(name)"
            raise UserError(
                f"hidden_quality takes the model's ModelProfile (its prior quality and specialties count), not "
                f"{type(model).__name__}: hidden_quality({hint}, domain)"
            )
        checked = check_domain(domain)
        if checked is None:
            raise UserError("hidden_quality needs a domain (one of the built-in domains, or a name of your own)")
        return self._hidden_quality(model, checked)

    def _hidden_quality(self, model: ModelProfile, domain: str) -> float:
        key = (model.name, domain)
        offset = self._offsets.get(key)
        if offset is None:
            offset = self._offsets[key] = hidden_offset(self.seed, model.name, domain)
        return _clip(model.quality + specialty_bonus(model, domain) + offset)

    def judge_bias(self, model: ModelProfile) -> float:
        """How much `model` over- (positive) or under-scores answers when it judges, within ±0.3."""
        bias = self._biases.get(model.name)
        if bias is None:
            bias = self._biases[model.name] = judge_bias(self.seed, model.name)
        return bias

    # -- generation ---------------------------------------------------------------------------
    def count_input_tokens(self, request: GenerationRequest) -> int:
        """Exact: the simulator bills about four characters a token, and counts the same way."""
        return input_tokens(sum(len(m.content) for m in request.messages))

    def _message_bound(self, messages: Sequence[Message]) -> int | None:
        if type(self).count_input_tokens is not SimulatedProvider.count_input_tokens:
            return None
        return input_tokens(sum(len(m.content) for m in messages))

    async def generate(self, request: GenerationRequest) -> Generation:
        """Simulate one call: faults, then an answer (or a JSON verdict for a judge), usage and latency."""
        generation, delay = self._simulate(request)
        if delay > 0.0:
            await self._pause(delay)
        return generation

    async def generate_stream(self, request: GenerationRequest, on_text: TextSink) -> Generation:
        """`generate`, streamed: the first words after a quarter of the simulated latency, the rest spread
        over the remainder, in up to 32 pieces."""
        generation, delay = self._simulate(request)
        pieces = _pieces(generation.text, 32)
        first, rest = delay * 0.25, delay * 0.75 / max(len(pieces) - 1, 1)
        for i, piece in enumerate(pieces):
            wait = first if i == 0 else rest
            if wait > 0.0:
                await self._pause(wait)
            await on_text(piece)
        return generation

    async def _pause(self, seconds: float) -> None:
        """Wait with `sleep`: awaited when it gives an awaitable (an `async def`, `asyncio.sleep`); a plain function
        (`delays.append`, to record the delays) is only called."""
        waited = self._sleep(seconds)
        if waited is not None:
            await waited

    def _simulate(self, request: GenerationRequest) -> tuple[Generation, float]:
        """The generation and how long (s, scaled) it takes; raises the fault it meets."""
        model = request.model
        faults = self.faults
        if faults is not None:
            scripted = faults.take_scripted(model)
            if scripted is not None:
                raise fault_error(scripted, model, retry_after=faults.retry_after, detail="scripted")
        pairs: list[tuple[str, str]] = [(m.role, m.content) for m in request.messages]
        chars = 0
        for _, content in pairs:
            chars += len(content)
        in_tokens = input_tokens(chars)
        if in_tokens + request.max_output_tokens > model.context_window:
            raise fault_error(
                "context_length",
                model,
                retry_after=0.0,
                detail=f"{in_tokens} input + {request.max_output_tokens} output tokens > {model.context_window}",
            )
        key = digest(self.seed, model.name, request.purpose, messages_bytes(pairs))
        if faults is not None and faults.total_rate > 0.0 and faults.applies_to(model):
            self._random_fault(faults, model, key)
        draws = Draws(key)
        cap = min(request.max_output_tokens, model.max_output_tokens)
        if request.purpose == "judge" or request.json_output:
            text, out_tokens, finish = self._judge(request, pairs, draws, cap)
        else:
            text, out_tokens, finish = self._answer(request, pairs, draws, cap)
        simulated_ms = latency_ms(model, out_tokens, draws)
        delay = simulated_ms * self.latency_scale / 1000.0
        usage = Usage(input_tokens=in_tokens, output_tokens=out_tokens, cached_input_tokens=0, reasoning_tokens=0)
        generation = Generation(
            text=text,
            usage=usage,
            latency_ms=simulated_ms,
            finish_reason=finish,
            model_name=model.name,
            cost=model.cost(usage) if model.priced else 0.0,
            reported_cost=None,  # (every field given: the orchestrator then shares its field set with others)
            response_model=None,
        )
        return generation, delay

    def _random_fault(self, faults: Faults, model: ModelProfile, key: bytes) -> None:
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        u = Draws(digest(key, "fault", attempt)).uniform()
        kind = None
        if u < faults.timeout_rate:
            kind = "timeout"
        elif u < faults.timeout_rate + faults.rate_limit_rate:
            kind = "rate_limit"
        elif u < faults.total_rate:
            kind = "server_error"
        if kind is not None:
            raise fault_error(kind, model, retry_after=faults.retry_after, detail=f"attempt {attempt + 1}")

    def _answer(
        self, request: GenerationRequest, pairs: list[tuple[str, str]], draws: Draws, cap: int
    ) -> tuple[str, int, str]:
        model, domain = request.model, request.domain
        hidden = self._hidden_quality(model, domain)
        previous: float | None = None
        for role, content in pairs:
            if role == "user" and "[simulated by OrchestrateX" in content:
                for match in FOOTER_RE.finditer(content):
                    value = float(match.group("quality"))
                    previous = value if previous is None else max(previous, value)
        if previous is None:
            quality = _clip(hidden + draws.normal(0.0, self.quality_noise))
        else:
            previous = min(previous, 10.0)
            gain = draws.uniform(0.2, 0.5)
            quality = min(10.0, max(hidden, previous) + (10.0 - previous) * gain)
        wanted = output_tokens(OUTPUT_TOKENS.get(domain, OUTPUT_TOKENS["general"]), draws)
        last_user = next((content for role, content in reversed(pairs) if role == "user"), "")
        scored = _JUDGED_RE.search(last_user) if previous is not None else None
        body = answer_text(
            domain=domain,
            task=task_summary(last_user),
            model_name=model.name,
            draws=draws,
            previous=previous,
            judged=float(scored.group(1)) if scored else None,
        )
        finish = "stop"
        tokens = wanted
        if wanted > cap:
            tokens, finish = cap, "length"
            quality = _clip(quality - _TRUNCATION_PENALTY * (1.0 - cap / wanted))
            if len(body) > cap * 4:
                body = body[: cap * 4] + _TRUNCATED_NOTE
        return f"{body}\n\n{footer(model.name, quality)}", tokens, finish

    def _judge(
        self, request: GenerationRequest, pairs: list[tuple[str, str]], draws: Draws, cap: int
    ) -> tuple[str, int, str]:
        quality: float | None = None
        for _, content in reversed(pairs):
            if "[simulated by OrchestrateX" in content:
                matches = FOOTER_RE.findall(content)
                if matches:
                    quality = float(matches[-1][1])
                    break
        if quality is None:
            quality = pseudo_quality(answer_under_evaluation([c for r, c in pairs if r != "system"]))
        noise = draws.normal(0.0, self.judge_noise)
        score = round(_clip(quality + noise + self.judge_bias(request.model)), 1)
        text = json.dumps({"score": score, "feedback": judge_feedback(request.domain, score, draws)})
        tokens = output_tokens(JUDGE_OUTPUT_TOKENS, draws)
        if tokens > cap:
            return text, cap, "length"
        return text, tokens, "stop"

    def __repr__(self) -> str:
        return (
            f"SimulatedProvider(seed={self.seed}, latency_scale={self.latency_scale:g}, faults={self.faults!r}, "
            f"judge_noise={self.judge_noise:g}, quality_noise={self.quality_noise:g})"
        )


def _pieces(text: str, most: int) -> list[str]:
    """`text` cut at word boundaries into at most `most` pieces that join back to it."""
    words = re.findall(r"\S*\s*", text)
    words = [w for w in words if w]
    if not words:
        return [text] if text else []
    per = -(-len(words) // most)
    return ["".join(words[i : i + per]) for i in range(0, len(words), per)]
