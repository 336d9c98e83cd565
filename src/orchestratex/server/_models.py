"""Models API: the catalog, each model with its live status and statistics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response

from ..catalog import ModelProfile
from ..domains import DOMAINS
from ..exceptions import NotFound, UnknownModelError
from ..stores import ModelStats
from ._app import ServerState, state_of
from ._auth import Principal, principal_of
from ._errors import ERROR_RESPONSES, quoted
from ._schemas import ONE_RECORD, ModelOut, check_query, document

__all__ = ["router"]

_LONGEST_SHOWN = 200
"""A name asked for past this many characters is not quoted whole in the 404 (nor is the library's message)."""

_READS_AT_ONCE = 16
"""The most statistics reads of `GET /api/models/` in flight at once (one a model: a live catalog may list hundreds)."""

router = APIRouter(prefix="/api/models", tags=["models"], responses=ERROR_RESPONSES)


def _describe(state: ServerState, model: ModelProfile, principal: Principal, stats: ModelStats) -> ModelOut:
    orchestrator = state.orchestrator
    aliases = sorted(a for a, target in orchestrator.catalog.aliases.items() if target == model.name)
    if not principal.admin:
        # a domain of one's own is a name a user chose (`acme-merger`): the statistics count every user's calls, so
        # they show the built-in domains only (an admin sees all of them)
        shown = {d: s for d, s in stats.mean_score_by_domain.items() if d in DOMAINS}
        stats = stats.model_copy(update={"mean_score_by_domain": shown})
    return ModelOut(
        name=model.name,
        provider=model.provider,
        version=model.version,
        specialties=list(model.specialties),
        cost_per_1k_tokens=model.cost_per_1k_tokens,
        input_cost_per_1k=model.input_cost_per_1k,
        output_cost_per_1k=model.output_cost_per_1k,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        status=orchestrator.model_status(model.name),
        circuit=orchestrator.circuit.state(model.name),
        aliases=aliases,
        stats=stats,
    )


@router.get("/", response_model=list[ModelOut], summary="List Available Models")
async def list_models(request: Request) -> Response:
    """Every model of the catalog (simulated ones are `sim:<model>` and answer to the real names)."""
    # (`?provider=openai` or `?status=active` answered every model, as if filtered)
    check_query(request, (), "not a query parameter of the models list, which takes none: it lists every model")
    state = state_of(request)
    principal = principal_of(request)
    models = list(state.orchestrator.catalog)
    # (read side by side, not one after another: each model's is a store round trip, 22 for the shipped catalog)
    gate = asyncio.Semaphore(_READS_AT_ONCE)

    async def stats_of(model: ModelProfile) -> ModelStats:
        async with gate:
            return await state.store.model_stats(model.name)

    stats = await asyncio.gather(*(stats_of(m) for m in models))
    return document([_describe(state, m, principal, s) for m, s in zip(models, stats, strict=True)])


@router.get("/{model_name:path}", response_model=ModelOut, summary="Get Model Profile")
async def get_model(model_name: str, request: Request) -> Response:
    """One model by name or alias (`gpt4`, `openai:gpt-4.1`, `sim:gpt-4.1`; a name may hold `/`, as
    `openrouter:meta-llama/llama-3.3-70b-instruct`)."""
    check_query(request, (), ONE_RECORD)
    state = state_of(request)
    try:
        model = state.orchestrator.catalog.get(model_name)
    except UnknownModelError as exc:
        if len(model_name) > _LONGEST_SHOWN:
            raise NotFound(f"no model {quoted(model_name)}: `GET /api/models/` lists them") from None
        raise NotFound(exc.message) from None
    return document(_describe(state, model, principal_of(request), await state.store.model_stats(model.name)))
