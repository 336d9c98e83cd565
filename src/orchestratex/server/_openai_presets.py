"""Presets: model names of the OpenAI-compatible API that stand for orchestration settings.

`orchestratex/auto` orchestrates with the orchestrator's defaults; `orchestratex/fast` gives one
judged answer (and streams it token by token); `orchestratex/best` refines longer towards a higher
bar. `ServerSettings(presets=...)` or `ORCHESTRATEX_PRESETS` (inline JSON, or the path of a TOML or
JSON file) adds presets or changes these; a preset set to `null` (JSON) is removed.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..exceptions import ConfigurationError
from ..usage import MAX_AMOUNT
from ._numbers import Integer, Number, number_message
from ._schemas import Domain

__all__ = ["AUTO", "DEFAULT_PRESETS", "Preset", "merge_presets", "parse_presets"]

AUTO = "orchestratex/auto"
"""The preset with the orchestrator's defaults; `/v1/models` always lists it."""


class Preset(BaseModel):
    """Orchestration settings a model name of `/v1/chat/completions` stands for (unset: the defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True)

    description: str = ""
    """Shown in `/v1/models` (as `description`)."""
    max_iterations: Integer | None = Field(default=None, ge=1, le=50)
    evaluation_threshold: Number | None = Field(
        default=None, ge=0, le=10, validation_alias=AliasChoices("evaluation_threshold", "threshold")
    )
    """Also written `threshold`, its short name, as in a request (one of the two)."""
    preferred_models: tuple[str, ...] | None = Field(default=None, min_length=1, max_length=100)
    """Route only among these models (catalog names or aliases)."""
    cost_limit: Number | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    """US dollars one call may spend, judges included."""
    max_output_tokens: Integer | None = Field(default=None, ge=1)
    patience: Integer | None = Field(default=None, ge=1)
    domain: Domain = None
    """Read as a request's `domain` is (a built-in domain misspelt is refused when the presets are read)."""

    @model_validator(mode="before")
    @classmethod
    def _one_threshold(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "threshold" in data and "evaluation_threshold" in data:
            raise PydanticCustomError(
                "threshold_twice",
                "threshold and evaluation_threshold are the same setting (threshold is its short name): give one",
            )
        return data


DEFAULT_PRESETS: Mapping[str, Preset] = {
    AUTO: Preset(description="Routes, judges and refines with the server's defaults."),
    "orchestratex/fast": Preset(
        description="One answer from the best-suited model, judged once, streamed token by token.",
        max_iterations=1,
    ),
    "orchestratex/best": Preset(
        description="Refines longer towards a higher score (9/10), up to 8 attempts.",
        max_iterations=8,
        evaluation_threshold=9.0,
        patience=3,
    ),
}


def parse_presets(value: object) -> dict[str, Preset | None]:
    """Presets from a mapping, inline JSON, or the path of a `.toml` / `.json` file (`[presets."name"]` tables
    or top-level `"name": {...}` entries); `None` values remove a preset."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"presets: not valid JSON ({exc})") from None
        else:
            value = _read_file(Path(text).expanduser())
    if not isinstance(value, Mapping):
        raise ConfigurationError("presets: expected a mapping of model names to settings")
    if "presets" in value and isinstance(value["presets"], Mapping):
        value = value["presets"]
    found: dict[str, Preset | None] = {}
    for name, raw in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("presets: every preset needs a non-empty name")
        if raw is None or isinstance(raw, Preset):
            found[name] = raw
            continue
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"presets: {name!r} must be a table of settings")
        try:
            found[name] = Preset.model_validate(dict(raw))
        except ValueError as exc:
            raise ConfigurationError(f"presets: {name!r}: {_first(exc)}") from None
    return found


def merge_presets(overrides: Mapping[str, Preset | None] | None) -> dict[str, Preset]:
    """The default presets with `overrides` applied (a `None` removes one; `orchestratex/auto` always stays)."""
    merged: dict[str, Preset] = dict(DEFAULT_PRESETS)
    for name, preset in (overrides or {}).items():
        if preset is None:
            merged.pop(name, None)
        else:
            merged[name] = preset
    merged.setdefault(AUTO, DEFAULT_PRESETS[AUTO])
    return merged


def _read_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"presets: cannot read {path}: {exc.strerror or exc}") from None
    try:
        if (
            path.suffix.lower() == ".toml"
        ):  # (`utf-8-sig`: Notepad's byte order mark; TOML refused it at line 1, column 1)
            return tomllib.loads(raw.decode("utf-8-sig"))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise ConfigurationError(f"presets: {path} is not valid {kind}: {exc}") from None


_PER_CALL = frozenset({"session_id", "thread_id", "stream_events"})
"""Settings of a request that say where one call runs or how it streams, which no preset holds."""


def _first(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":  # (it said "Extra inputs are not permitted", naming no setting there is)
            return f"{where}: {_not_a_setting(where)}"
        return f"{where}: {number_message(err)}" if where else str(err["msg"])
    return str(exc)


def _not_a_setting(name: str) -> str:
    """Why `name` is refused in a preset: a request's setting for one call, or no setting at all (a typo)."""
    names = sorted({*Preset.model_fields, "threshold"})
    settings = ", ".join(names)
    if name in _PER_CALL:
        return (
            f"a setting of one request (where a call runs, or how it streams), not of a preset; a preset takes:"
            f" {settings}"
        )
    meant = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {meant[0]!r}?)" if meant else ""
    return f"not a setting of a preset{hint}; a preset takes: {settings}"
