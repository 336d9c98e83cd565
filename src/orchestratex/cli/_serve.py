"""`orchestratex serve`: the REST + WebSocket API under uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import faulthandler
import gc
import logging
import logging.config
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any

from ..exceptions import OrchestrateXError, UserError
from ..telemetry import telemetry_settings
from ..telemetry._hooks import check_tracer_provider
from ._listen import listen_sockets
from ._serve_itself import calls_itself
from ._start_signals import StoppedStarting, stopping_starts
from ._stores import chosen_store_url, in_memory, shown_url
from ._uncaught import log_uncaught

__all__ = ["serve_command"]


def serve_command(args: argparse.Namespace) -> int:
    """`orchestratex serve`. With `--log-format json` (or `ORCHESTRATEX_LOG_FORMAT=json`) a start that fails — a
    setting refused, a store that cannot open, a port in use — says why in a JSON line too, as every other line: a
    log pipeline reading JSON would otherwise drop (or not parse) the one line saying why the server is down."""
    if sys.stdout is None:  # `>&-` (a service manager's closed stdout): uvicorn's log formatters fail on it (`isatty`)
        sys.stdout = open(os.devnull, "w")  # (for the rest of the process: the access log goes nowhere)
    wanted = args.log_format or os.environ.get("ORCHESTRATEX_LOG_FORMAT", "")
    json_lines = wanted.strip().lower() == "json"
    try:
        with stopping_starts() as serving:
            return _serve(args, serving)
    except StoppedStarting as exc:
        if json_lines:
            _say_json(exc.message, logging.WARNING)
        else:
            print(f"orchestratex: {exc.message}", file=sys.stderr, flush=True)
        exc.end_by_the_signal()  # (as uvicorn does once stopped: a service manager reads a stop by its signal)
        return exc.exit_code
    except UserError as exc:
        if not json_lines:
            raise
        _say_json(exc.message, logging.ERROR)
        return 2  # (as the command line's usage errors)
    except OrchestrateXError as exc:
        if not json_lines:
            raise
        _say_json(f"{type(exc).__name__}: {exc.message}", logging.ERROR)
        return 1
    except KeyboardInterrupt:  # (Ctrl-C before uvicorn handles it: opening the store, a migration)
        if not json_lines:
            raise
        _say_json("interrupted: the server did not start", logging.WARNING)
        return 130  # (as the command line says "orchestratex: interrupted")


def _serve(args: argparse.Namespace, serving: Callable[[], None]) -> int:
    """Serve; `serving()` is called as uvicorn is about to take the stop signals (see `_start_signals`)."""
    try:
        import uvicorn
    except ImportError:
        raise UserError("the server needs uvicorn (not installed): pip install 'orchestratex[server]'") from None
    try:
        from ..server import ServerSettings, create_app
        from ..server._protocol import uvicorn_options
    except ImportError as exc:
        if "orchestratex[server]" not in str(exc):
            raise
        raise UserError(str(exc).replace("orchestratex.server", "the server", 1)) from None
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    if args.catalog:  # checked now (a clear error, not a failed start-up); the app's Orchestrator reads it
        from .._catalog_file import CATALOG_ENV, load_catalog_file
        from ._models import with_models

        _reread(args.catalog)
        with_models(load_catalog_file(args.catalog))
        os.environ[CATALOG_ENV] = args.catalog
    url = chosen_store_url(args.store)
    settings = ServerSettings.from_env(**({"log_format": args.log_format} if args.log_format else {}))
    telemetry_settings()  # a mistyped ORCHESTRATEX_TRACING or _LOG_CONTENT: one line, before the store is opened
    # (a warning, a thread's uncaught exception, an unraisable one: log lines of `py.warnings`, `py.threading` and
    # `py.unraisable`, JSON or text as the others, not Python's own lines without a time, logger nor level)
    log_uncaught()
    # The server's logging first: opening the store may say it migrates the database (minutes for a large one), and
    # `uvicorn_options` may warn (connections lowered to the open-file limit, no httptools); before uvicorn configured
    # its logging (in `uvicorn.Config`) those lines went to the command's own handler, which shows errors only.
    # (`-vv`, as for every command: the library's DEBUG lines too; serving, its INFO lines are always shown)
    level = "DEBUG" if getattr(args, "verbose", 0) + getattr(args, "verbose_after", 0) >= 2 else "INFO"
    logging.config.dictConfig(_log_config(settings.log_format, level))
    # (an OTEL_PYTHON_TRACER_PROVIDER naming no installed provider; once the logging is set: loading one may warn)
    check_tracer_provider()
    asyncio.run(_check_store(url))  # a store that cannot open is one clear line, not uvicorn's start-up traceback
    faulthandler.enable()  # a fatal signal (e.g. SIGBUS from a damaged database mapping) still leaves a trace
    try:
        sockets = listen_sockets(args.host, args.port)
    except OSError as exc:
        return _cannot_serve(f"cannot listen on {args.host}:{args.port}: {_listen_fix(exc)}", settings.log_format)
    try:
        port = sockets[0].getsockname()[1]
        app = create_app(store_url=url, settings=settings)
        from ._models import simulation_reason

        orchestrator = app.state.server.orchestrator
        itself = calls_itself(orchestrator, {sock.getsockname()[0] for sock in sockets}, port)
        if itself is not None:  # (OPENAI_BASE_URL, set for the server's clients, in the server's shell too)
            return _cannot_serve(itself, settings.log_format)
        simulated = simulation_reason(orchestrator.catalog) if orchestrator.simulated else None
        _say_where(args.host, port, url, settings, simulated, sockets)
        # The SQLite store works in its own thread; under load the event loop holds the GIL most of the time and
        # that thread would wait up to the default 5 ms switch interval for every statement. 0.5 ms keeps it moving.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        gc.collect()
        gc.freeze()  # modules, schemas and the app live as long as the process: keep them out of every collection
        gc.set_threshold(settings.gc_threshold, *gc.get_threshold()[1:])
        _stop_on_hangup()
        options = uvicorn_options(settings)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=port,
            log_config=_log_config(settings.log_format, level),
            access_log=settings.access_log,
            **options,
        )
        server = _forcible_server(config)
        serving()  # (uvicorn takes SIGTERM and SIGHUP from here: a graceful stop)
        with contextlib.suppress(KeyboardInterrupt):  # (as `uvicorn.run`)
            server.run(sockets=sockets)  # (the port held from now on: none can take it before uvicorn listens)
        if not server.started:
            return 3  # uvicorn's exit status for a failed start-up
        return 0
    finally:  # (uvicorn closes them as it stops; not when the app could not be made, nor when it never ran)
        for sock in sockets:
            sock.close()


def _say_where(
    host: str, port: int, url: str, settings: Any, simulated: str | None, sockets: Sequence[socket.socket] = ()
) -> None:
    """The start-up lines: where the server serves (from what store, with which models), its docs and console;
    `simulated` is why it serves simulated models (`OLLAMA_BASE_URL is set, but the catalog has no ollama model…`, as
    `orchestratex models` says: it said "no provider key set" whatever was set), or None when it serves real ones."""
    where = f"simulated models ({simulated})" if simulated is not None else "configured providers"
    # a wildcard host is no address to open: browsers refuse http://0.0.0.0 (Chrome since 2024), Windows always did.
    # Told by the addresses bound, not by how the host was written: `--host 0` (as `http.server --bind 0` takes it),
    # `0.0` or `*` listened on every address too, and said only "serving http://0:8000" (or `http://*:8000`)
    bound = {sock.getsockname()[0] for sock in sockets} or {host}
    every = bool(bound & {"0.0.0.0", "::"})
    shown = ("127.0.0.1" if "0.0.0.0" in bound else "::1") if every else host
    base = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    say = _say_json if settings.log_format == "json" else _say_text
    say(f"serving {base} (store {shown_url(url)}, {where})")  # (logs are shipped and read: no password)
    if every:
        say(f"listening on every address of this machine (--host {host}): from elsewhere, use one of them")
    if settings.docs == "open":
        say(f"API docs at {base}/docs")
    say(f"web console at {base}/")
    if in_memory(url):  # (`keys create` refuses such a store: no key could ever be made for this server)
        say(
            f"note: the store {shown_url(url)} lives in this process only, so it holds no API key and `orchestratex "
            "keys create` cannot give it one: every request that needs a key is refused (serve a sqlite:///… store)"
        )


def _forcible_server(config: Any) -> Any:
    """uvicorn's server for `config`, which also tells the app when its stop is forced (a second Ctrl-C or SIGTERM):
    a second Ctrl-C ("CTRL+C to force quit") only set a flag uvicorn reads while it waits for connections,
    so during the app's grace period (`shutdown_grace_s`, for its running orchestrations) it did nothing, and the stop
    went on for the whole grace. The app then hands its runs back at once (`_stopping.on_forced`)."""
    import uvicorn

    class Server(uvicorn.Server):
        loop: asyncio.AbstractEventLoop | None = None
        forced: asyncio.Event | None = None

        async def serve(self, sockets: list[socket.socket] | None = None) -> None:
            self.loop = asyncio.get_running_loop()
            self.forced = asyncio.Event()
            await super().serve(sockets)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if sockets is not None and self.started:  # (uvicorn says where it listens only on sockets it bound)
                self._log_started_message(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            if len(self._captured_signals) > 1 and sig == signal.SIGTERM:
                # uvicorn forces only on a second SIGINT: a second SIGTERM (`kill` again, a service manager's stop
                # repeated) did nothing, the grace period ran on, and only SIGKILL was left, leaving the runs under
                # their leases. It now forces, as a second Ctrl-C does. (Not a SIGHUP: a terminal that closes sends
                # two, its shell's and the kernel's, and means one graceful stop.)
                self.force_exit = True
            loop = self.loop
            if self.force_exit and loop is not None and not loop.is_closed():
                from ..server._stopping import server_forced

                loop.call_soon_threadsafe(server_forced, loop)  # (in a signal handler: the loop may be anywhere)
                if self.forced is not None:
                    loop.call_soon_threadsafe(self.forced.set)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # A stop forced once the app's shutdown had begun — its runs' hand-back waiting for a store that is busy
            # (another process holding SQLite's write lock) or unreachable, retried for minutes — was not cut short:
            # a second Ctrl-C or SIGTERM did nothing and only SIGKILL ended the process. The forced stop now gives
            # the rest of the stop `_FORCED_SHUTDOWN_S`, as when it is forced before the app's shutdown begins.
            await _until_forced_for_long(self._stop(sockets), self.forced or asyncio.Event())

        async def _stop(self, sockets: list[socket.socket] | None) -> None:
            await super().shutdown(sockets)
            # A stop forced while uvicorn waits for connections (a `/v1` call waiting for its run) skips the app's
            # shutdown: the loop's end then cancelled the app's lifespan, cutting off its stop (its runs handed back,
            # its store closed) and logging the `CancelledError` as an ERROR traceback. Its grace period is over
            # (`server_forced`): what is left is quick, and bounded here all the same.
            done = getattr(self.lifespan, "shutdown_event", None)
            if self.force_exit and done is not None and not done.is_set():
                try:
                    await asyncio.wait_for(self.lifespan.shutdown(), _FORCED_SHUTDOWN_S)
                except TimeoutError:
                    _say_forced_too_long()

    return Server(config)


async def _until_forced_for_long(stopping: Coroutine[Any, Any, None], forced: asyncio.Event) -> None:
    """Await `stopping`; once `forced` is set, for at most `_FORCED_SHUTDOWN_S` more (then say so and return)."""
    stop = asyncio.ensure_future(stopping)
    force = asyncio.ensure_future(forced.wait())
    try:
        await asyncio.wait([stop, force], return_when=asyncio.FIRST_COMPLETED)
        if not stop.done():
            await asyncio.wait_for(asyncio.shield(stop), _FORCED_SHUTDOWN_S)
        stop.result()
    except TimeoutError:
        _say_forced_too_long()
    finally:
        force.cancel()


def _say_forced_too_long() -> None:
    logging.getLogger("orchestratex.server").error(
        "the forced stop did not finish within %g s: exiting without it", _FORCED_SHUTDOWN_S
    )


_FORCED_SHUTDOWN_S = 30.0
"""How long the app's shutdown may take after a forced stop (its runs are handed back at once then)."""


def _reread(path: str) -> None:
    """`UserError` for a `--catalog` the server could not read again as it starts: a pipe (`--catalog <(curl …)`,
    `/dev/stdin`) was read empty the second time, and the server served the shipped catalog, simulated, in its place,
    having checked the file and said nothing."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # (reading it says what is wrong)
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):  # (a directory: reading it says so)
        raise UserError(
            f"--catalog {path}: the server reads its catalog file again as it starts, and this is no regular file (a"
            " pipe, as <(…) or /dev/stdin give) that could be read twice: save it to a file and give that file"
        )


def _stop_on_hangup() -> None:
    """A closed terminal (SIGHUP) stops the server gracefully, as Ctrl-C and SIGTERM do (and as it interrupts `run`):
    it killed the process at once, leaving its running orchestrations `running` under leases nobody would give up
    until they expired, and the calls in flight to be paid again on resumption. Under `nohup` (SIGHUP ignored) the
    server keeps running. uvicorn handles the signals of its `HANDLED_SIGNALS`, then re-raises each once stopped."""
    import signal

    import uvicorn.server

    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or signal.getsignal(hangup) is signal.SIG_IGN or hangup in uvicorn.server.HANDLED_SIGNALS:
        return
    uvicorn.server.HANDLED_SIGNALS = (*uvicorn.server.HANDLED_SIGNALS, hangup)  # type: ignore[assignment]


async def _check_store(url: str) -> None:
    from ..stores import open_store

    store = await open_store(url)
    await store.close()


def _listen_fix(exc: OSError) -> str:
    """Why binding failed, and what to change: the port when it is taken (or reserved), else the host. Every failure
    said "give another --port (or a --host of this machine)", a host name that does not resolve (`--host lcoalhost`)
    and an address of another machine too, though no port would do."""
    import errno

    why = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        return f"no such host ({why}): give a --host of this machine ({HOST_EXAMPLES})"
    if exc.errno == errno.EADDRINUSE:
        return f"{why}: give another --port (or a --host of this machine)"
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
        return f"{why}: it is not an address of this machine: give one ({HOST_EXAMPLES})"
    if exc.errno == errno.EACCES:
        return f"{why}: a port below 1024 needs privileges: give --port 1024 or above (8000, say)"
    return f"{why}: give another --port (or a --host of this machine)"


HOST_EXAMPLES = "127.0.0.1, or 0.0.0.0 for every address"


def _cannot_serve(why: str, log_format: str) -> int:
    """Say why the server cannot start (a JSON line with `--log-format json`); returns the exit status, 1."""
    if log_format == "json":
        _say_json(why, logging.ERROR)
    else:
        print(f"orchestratex: error: {why}", file=sys.stderr)
    return 1


def _say_text(line: str) -> None:
    print(f"orchestratex: {line}", file=sys.stderr, flush=True)


def _say_json(line: str, level: int = logging.INFO) -> None:
    """`line` as a log line of `orchestratex.server` in JSON: with `--log-format json` every line is JSON."""
    from ..telemetry import JsonFormatter

    record = logging.LogRecord("orchestratex.server", level, __file__, 0, line, None, None)
    print(JsonFormatter().format(record), file=sys.stderr, flush=True)


def _log_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging, plus the `orchestratex` loggers (resumed runs, failures) on the same handler; with
    `log_format="json"`, every line (uvicorn's access and error logs too) is one JSON object."""
    from uvicorn.config import LOGGING_CONFIG

    from ._log_text import TEXT_ACCESS_FORMAT, TEXT_FORMAT

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["orchestratex"] = {"handlers": ["default"], "level": level, "propagate": False}
    # (stdout's reader gone: one warning, not a "Logging error" traceback for every request; see `_access_log`)
    config["handlers"]["access"] = {"()": "orchestratex.cli._access_log.StdoutLogHandler", "formatter": "access"}
    if log_format == "text":  # (uvicorn's format gives neither the time nor the logger: see `_log_text`)
        config["formatters"] = {
            "default": {"()": "orchestratex.cli._log_text.TextFormatter", "fmt": TEXT_FORMAT},
            "access": {"()": "orchestratex.cli._log_text.TextAccessFormatter", "fmt": TEXT_ACCESS_FORMAT},
        }
    if log_format == "json":
        json_formatter = {"()": "orchestratex.telemetry.JsonFormatter"}
        config["formatters"] = {"default": json_formatter, "access": json_formatter}
    # Other libraries' warnings and errors (OpenTelemetry's SDK and exporters, asyncio, Python's warnings once
    # `log_uncaught` sends them to logging) reach the root logger, which had no handler: Python's last resort wrote
    # them as bare lines of text, among the JSON ones, or with no time, logger nor level among the text ones.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
