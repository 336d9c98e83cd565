"""The OpenAI-compatible API: `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/models/{model}`.

A drop-in for applications that speak the OpenAI chat API (the openai SDK, LangChain, LlamaIndex,
curl): point their base URL at `http://host:port/v1` and use an OrchestrateX API key. The same keys,
limits and records as the spec's API apply: every call is an orchestration, visible through
`/api/orchestration/status/{id}`, the session's WebSocket and the analytics. Mounted as its own
small app (a FastAPI one without a schema of its own), so the spec's OpenAPI schema and error shape
stay exactly as they are; here errors take OpenAI's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from ..catalog import ModelProfile
from ..exceptions import ConfigurationError, OrchestrateXError, StoreUnavailable, UnknownModelError
from ..orchestrator import RunResult
from ._app import ServerState
from ._auth import Principal, key_of, no_key_reason
from ._auth_limit import client_address
from ._bodies import content_coding
from ._idempotency import HEADER
from ._limits import RateAnnouncing
from ._openai_chat import ChatCall, DefaultSessions, prepare_call, resolve_target, unusable
from ._openai_errors import NO_RETRY, OpenAIError, from_exception, openai_error_response
from ._openai_presets import Preset, merge_presets
from ._openai_replay import REPLAYED, v1_idempotency_key
from ._openai_results import completion, failure, started_extension
from ._openai_schemas import ChatRequest, parse_chat_request
from ._openai_stream import EventTap, replayed_stream, settled, sse_stream
from ._openai_wait import ended, wait_for_run
from ._request_ids import request_id
from ._v1_unknown import stored_completions, unknown_v1_url

__all__ = ["OpenAIRoutes", "mount_openai"]

logger = logging.getLogger("orchestratex.server")

Handler = Callable[[Request, Principal], Awaitable[Response]]


def _json(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), headers=headers, media_type="application/json")


class OpenAIRoutes:
    """The `/v1` endpoints of one app."""

    def __init__(self, state: ServerState, presets: dict[str, Preset]) -> None:
        self.state = state
        self.presets = presets
        self.sessions = DefaultSessions(state)
        self.tap = EventTap()
        self.created = int(time.time())
        state.orchestrator.handlers.append(self.tap.publish)

    def check_presets(self) -> None:
        """Every model a preset prefers is in the catalog, and one of them can answer (else the app does not start:
        every call of the preset would be refused, blaming the client for the server's settings)."""
        for name, preset in self.presets.items():
            reasons = []
            for model in preset.preferred_models or ():
                try:
                    profile = self.state.orchestrator.catalog.get(model)
                except UnknownModelError as exc:  # (not in the catalog, or its provider not in use: no key set)
                    raise ConfigurationError(f"preset {name!r} prefers {model!r}: {exc.message}") from None
                why = unusable(profile, self.state)
                if why is None:
                    break
                reasons.append(f"{model!r} is {why}")
            else:
                if reasons:
                    raise ConfigurationError(
                        f"preset {name!r}: none of its preferred models can answer ({'; '.join(reasons)}):"
                        " prefer models of `orchestratex models` that are routed to"
                    )

    def app(self) -> FastAPI:
        # (with a trailing slash, as an endpoint URL is sometimes written: it was a 307 with no body, which curl
        # shows as nothing at all, and which points at `http://` behind a proxy that terminates TLS)
        slashed = Route("/chat/completions/", self._endpoint(self.chat_completions), methods=["POST"])
        # Counted in the metrics and traced (`http.route`) as the endpoint it is: as `/v1/chat/completions/`, a route of
        # its own, its calls were missing from every dashboard and alert on the documented route.
        slashed.path_format = "/chat/completions"
        listed = Route("/models/", self._endpoint(self.list_models), methods=["GET"])  # (the list: not a model "")
        listed.path_format = "/models"
        routes: list[BaseRoute] = [
            Route("/chat/completions", self._endpoint(self.chat_completions), methods=["POST"]),
            slashed,
            Route("/models", self._endpoint(self.list_models), methods=["GET"]),
            listed,
            Route("/models/{model:path}", self._endpoint(self.get_model), methods=["GET"]),
        ]

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            status = exc.status_code
            message, code = _HTTP_ERRORS.get(status, (exc.detail, None))
            if status == 404:  # (an unknown URL: what went wrong, where it can be told)
                rest = request.url.path.removeprefix(request.scope.get("root_path", ""))  # (below /v1)
                message = unknown_v1_url(request.method, rest, str(request.url.replace(query="")))
            headers = dict(exc.headers or {})  # (a 405's `Allow`)
            if status == 405 and headers.get("Allow"):
                message = f"{request.method} is not allowed on {request.url.path}: use {headers['Allow']}"
                rest = request.url.path.removeprefix(request.scope.get("root_path", ""))
                stored = stored_completions(rest) if request.method == "GET" else None
                if stored is not None:  # (`client.chat.completions.list()`: a list of stored completions)
                    message += f" ({stored})"
            return openai_error_response(OpenAIError(status, message, code=code, headers=headers))

        # A FastAPI app (with no schema nor docs pages of its own), not a bare Starlette one: FastAPI's routing names
        # the route it picks on the request's server span (its own tracing, or an instrumentation's), which a
        # Starlette app left at the mount's `POST /v1/{path}` for every call.
        return FastAPI(
            routes=routes,
            # (its routes count each request: the answers carry the `RateLimit` headers of that count, as on `/api`)
            middleware=[Middleware(RateAnnouncing, rate=self.state.rate)],
            exception_handlers={HTTPException: http_error},
            openapi_url=None,
            docs_url=None,
            redoc_url=None,
        )

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                user = await self.state.auth.principal(
                    key_of(request), client_address(request.scope), missing=no_key_reason(request)
                )
                await self.state.rate.hit_user(user.user_id)  # the per-user limit, as on every route
                return await handler(request, user)
            except (OpenAIError, HTTPException, OrchestrateXError) as exc:
                return openai_error_response(from_exception(exc))
            except ClientDisconnect:  # gone before its body arrived: no server fault, nothing started
                return openai_error_response(_DISCONNECTED)
            except Exception:
                _failed(request)
                return openai_error_response(from_exception(RuntimeError()))

        return endpoint

    # -- models -------------------------------------------------------------------------------------
    def _preset_entry(self, name: str, preset: Preset) -> dict[str, Any]:
        settings = preset.model_dump(exclude_none=True, exclude={"description"})
        return {
            "id": name,
            "object": "model",
            "created": self.created,
            "owned_by": "orchestratex",
            "description": preset.description,
            "orchestratex": {"preset": settings},
        }

    def _model_entry(self, model: ModelProfile) -> dict[str, Any]:
        return {
            "id": model.name,
            "object": "model",
            "created": self.created,
            "owned_by": model.provider,
            "orchestratex": {
                "aliases": sorted(a for a, t in self.state.orchestrator.catalog.aliases.items() if t == model.name),
                "context_window": model.context_window,
                "max_output_tokens": model.max_output_tokens,
                "input_cost_per_1k": model.input_cost_per_1k,
                "output_cost_per_1k": model.output_cost_per_1k,
                "status": self.state.orchestrator.model_status(model.name),
            },
        }

    async def list_models(self, request: Request, user: Principal) -> Response:
        """The presets, then every model this server can route to."""
        entries = [self._preset_entry(n, p) for n, p in self.presets.items()]
        entries += [self._model_entry(m) for m in self.state.orchestrator.usable_models(None)]
        return _json({"object": "list", "data": entries})

    async def get_model(self, request: Request, user: Principal) -> Response:
        name = request.path_params["model"]
        if name.endswith("/"):  # (`/v1/models/orchestratex/fast/`: that model, as the chat route takes its slash)
            name = name[:-1]
        if not name:  # `/v1/models/`: the list, with a trailing slash (it said "The model `` does not exist")
            return await self.list_models(request, user)
        target = resolve_target(name, self.presets, self.state)
        if target.model is None:
            return _json(self._preset_entry(name, target.preset))
        return _json(self._model_entry(target.model))

    # -- chat -------------------------------------------------------------------------------------
    async def chat_completions(self, request: Request, user: Principal) -> Response:
        coding = content_coding(request.scope)
        if coding is not None:  # (read as it is, a gzip body was "not valid JSON: expected value at line 1 column 1")
            raise OpenAIError(
                415,
                f"the request body is sent with 'Content-Encoding: {coding[:40]}', which this server does not decode:"
                " send it uncompressed (no Content-Encoding)",
                code="unsupported_content_encoding",
                headers={"Accept-Encoding": "identity"},
            )
        body, options = parse_chat_request(await request.body())
        key = v1_idempotency_key(request)
        target = resolve_target(body.model, self.presets, self.state)
        state = self.state
        call = await prepare_call(state, self.sessions, user, body, options, target, self.presets, key)
        if call.replayed:
            return await self._replay(request, body, call)
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage is True
            api_key = key_of(request)
            stream = sse_stream(
                state,
                self.tap,
                call,
                stops=body.stop_sequences,
                include_usage=include_usage,
                stream_events=options.stream_events,
                receive=None if call.keyed else request.receive,  # (with an Idempotency-Key: sent again, not left)
                key=None if api_key is None else (api_key, user.key_id),
            )
            headers = {**call.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
        task = state.runner.launch(call.orchestration)
        try:
            return await self._answer(request, user, body, call, task)
        except OpenAIError:
            raise
        except Exception as exc:  # (about a run that started: it may have spent, so the SDK must not run it again)
            if not isinstance(exc, HTTPException | OrchestrateXError):
                _failed(request)
            error = from_exception(exc)
            oid = call.orchestration.id
            error.message += f" (orchestration {oid} had started: follow GET /api/orchestration/status/{oid})"
            error.headers.update({**call.headers, **NO_RETRY})
            error.extra.setdefault(
                "orchestratex", started_extension(call.orchestration, call.target, self.state.orchestrator.simulated)
            )
            raise error from None

    async def _answer(
        self, request: Request, user: Principal, body: ChatRequest, call: ChatCall, task: asyncio.Task[RunResult]
    ) -> Response:
        """The answer of a call without `stream`, once its run (`task`) has ended."""
        state, target = self.state, call.target
        simulated = state.orchestrator.simulated

        def which(status: str) -> dict[str, Any]:  # (the orchestration the error is about, as a failure names it)
            return {"orchestratex": started_extension(call.orchestration, target, simulated, status)}

        waited = await wait_for_run(state, request, user, task)
        if waited == "revoked":
            await _cancel(state, call.orchestration.id)
            raise OpenAIError(
                401,
                f"this API key was revoked while the answer was computed: orchestration {call.orchestration.id}"
                " is stopped; ask for a new key",
                code="invalid_api_key",
                headers={**call.headers, **NO_RETRY},
                extra=which("cancelled"),
            )
        if waited == "gone" and call.keyed:  # (it goes on: the call sent again with its key answers it)
            raise OpenAIError(
                400,
                f"the client disconnected before the answer: orchestration {call.orchestration.id} goes on; send the"
                f" call again with its {HEADER} for its answer",
                code="client_disconnected",
                headers=call.headers,
            )
        if waited == "gone":  # (nobody reads this answer: it is what the metrics count)
            await _cancel(state, call.orchestration.id)
            raise OpenAIError(
                400,
                f"the client disconnected before the answer: orchestration {call.orchestration.id} is cancelled",
                code="client_disconnected",
                headers={**call.headers, **NO_RETRY},
                extra=which("cancelled"),
            )
        doc = await settled(state, task, call.orchestration.id)  # (ended `cancelled` when stopped from elsewhere)
        if doc is None:
            raise OpenAIError(
                503,
                f"the server stopped orchestration {call.orchestration.id}; it resumes when a server restarts:"
                f" follow GET /api/orchestration/status/{call.orchestration.id}",
                code="stopped",
                headers={**call.headers, **NO_RETRY},  # it resumes after a restart: a retry would run it twice
                extra=which("running"),  # (it stays running in the store, for the next server)
            )
        if doc.status != "completed":
            error = failure(doc, target, simulated, state.orchestrator.circuit)
            error.headers.update(call.headers)
            raise error
        return _json(completion(doc, target, body.stop_sequences, simulated), call.headers)

    async def _replay(self, request: Request, body: ChatRequest, call: ChatCall) -> Response:
        """The answer of a call sent again with its `Idempotency-Key`: that of the orchestration the first call stored,
        once it has ended, with `Idempotent-Replayed: true`. Nothing is cancelled when this client leaves."""
        state, target, headers = self.state, call.target, {**call.headers, REPLAYED: "true"}
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage is True
            stream = replayed_stream(state, call.orchestration, target, body.stop_sequences, include_usage)
            headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
        doc = await ended(state, request.receive, call.orchestration.id)
        if doc is None:
            raise OpenAIError(400, "the client disconnected before the answer", code="client_disconnected")
        simulated = state.orchestrator.simulated
        if doc.status != "completed":
            error = failure(doc, target, simulated, state.orchestrator.circuit)
            error.headers.update(headers)
            raise error
        return _json(completion(doc, target, body.stop_sequences, simulated), headers)


def _failed(request: Request) -> None:
    """Log the unexpected failure of `request` (with the traceback being handled), with the id its answer carries
    (`x-request-id`), which its client logs."""
    ident = request_id(request.scope)
    logger.exception(
        "%s %s failed unexpectedly (request %s)", request.method, request.url.path, ident, extra={"request_id": ident}
    )


async def _cancel(state: ServerState, oid: str) -> None:
    """Cancel the run of a call whose answer nobody may read. One the store did not take (`StoreUnavailable`) is
    stopped here all the same, its cancel written once the store answers: logged, and the call answered as it is
    (its key revoked: 401, not a 503 about the store)."""
    try:
        await state.orchestrator.cancel(oid)
    except StoreUnavailable as exc:
        logger.warning("%s", exc, extra={"orchestration_id": oid})


_DISCONNECTED = OpenAIError(
    400, "the client disconnected before sending the whole request body: send it again", code="client_disconnected"
)
"""The answer (nobody reads it; it is counted as a 400, as on `/api`) to a request its client left mid-body."""

_HTTP_ERRORS = {
    404: ("Unknown request URL", "not_found"),  # (its message says more: `unknown_v1_url`)
    405: ("Method not allowed on this URL", "method_not_allowed"),
}


def mount_openai(app: FastAPI, state: ServerState) -> OpenAIRoutes:
    """Serve the OpenAI-compatible API under `/v1` of `app` (presets from `state.settings.presets`)."""
    routes = OpenAIRoutes(state, merge_presets(state.settings.presets))
    routes.check_presets()
    # first in the routing table: a /v1 request is not matched against every /api route before it
    app.router.routes.insert(0, Mount("/v1", app=routes.app(), name="openai"))
    # `/v1` itself (a base URL opened in a browser, `curl host:8000/v1`) was an empty 307 to `/v1/`, which said 404:
    # it is answered that 404 at once, saying what this server serves there
    app.router.routes.insert(1, Route("/v1", _bare_v1, methods=_ANY, include_in_schema=False))
    return routes


_ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _bare_v1(request: Request) -> Response:
    """The 404 of `/v1` (any method): the API's root, no endpoint of its own; the message names those it has."""
    message = unknown_v1_url(request.method, "", str(request.url.replace(query="")))
    return openai_error_response(OpenAIError(404, message, code="not_found"))
