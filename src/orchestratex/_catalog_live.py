"""The live parts of `ModelCatalog`: catalog files that are re-read when they change, and catalogs
derived from another one (`with_only`, `simulated`) that follow it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError, UserError

if TYPE_CHECKING:
    from ._catalog_file import CatalogContent, ProviderSpec
    from .catalog import ModelCatalog, ModelProfile

__all__ = ["Derivation", "WatchedFile", "read_catalog_file"]

logger = logging.getLogger("orchestratex.catalog")


def read_catalog_file(path: Path) -> dict[str, Any]:
    """The parsed content of a TOML or JSON catalog file, or `ConfigurationError` saying what is wrong."""
    import json
    import tomllib

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read catalog file {str(path)!r}: {exc.strerror}") from exc
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"  # (`MODELS.JSON`, as Windows tools may name it)
    text = _text(raw, path) if kind == "TOML" else ""
    try:
        data = json.loads(raw) if kind == "JSON" else tomllib.loads(text)
    except ValueError as exc:
        if isinstance(exc, UnicodeDecodeError):
            _text(raw, path)  # (JSON that is not UTF-8, nor UTF-16 or UTF-32, which `json.loads` reads: said so)
        if kind == "JSON" or not text.lstrip().startswith("{"):  # (no TOML document starts with `{`)
            raise ConfigurationError(f"catalog file {str(path)!r} is not valid {kind}: {exc}") from exc
        # JSON whose file's name does not end in `.json` (`--catalog <(curl …)`, `/dev/stdin`, `models.conf`): it was
        # refused as "not valid TOML: Invalid statement (at line 1, column 1)", though nothing in it was wrong
        try:
            data = json.loads(text)
        except ValueError as json_exc:
            raise ConfigurationError(f"catalog file {str(path)!r} is not valid JSON: {json_exc}") from json_exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"catalog file {str(path)!r} must hold a table (an object) at the top")
    return data


def _text(raw: bytes, path: Path) -> str:
    """The text of a catalog file: UTF-8, after the byte order mark Notepad saves (TOML refused it at line 1, column
    1), or UTF-16, as its byte order mark says (Windows PowerShell 5's `>` and `Out-File` write it: it was refused as
    "'utf-8' codec can't decode byte 0xff in position 0"); other bytes are `ConfigurationError` saying where."""
    import codecs

    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass  # (said below: not UTF-8)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigurationError(
            f"catalog file {str(path)!r} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, column"
            f" {column}): save it as UTF-8 (`iconv -f LATIN1 -t UTF-8`, or your editor's encoding menu)"
        ) from None


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass(slots=True)
class WatchedFile:
    """A catalog file merged into a catalog and re-read when its modification time or size changes.

    What the file defined is remembered with what it replaced (`underlay`, `alias_underlay`), so a model
    or alias removed from the file goes back to its earlier definition (or leaves the catalog when the
    file added it).
    """

    path: Path
    interval: float
    include_default: bool = True
    """As the first version of the file said (the base catalog is chosen once)."""
    signature: tuple[int, int] | None = None
    checked_at: float = float("-inf")
    loaded: bool = False
    underlay: dict[str, ModelProfile | None] = field(default_factory=dict)
    alias_underlay: dict[str, str | None] = field(default_factory=dict)
    endpoints: dict[str, ProviderSpec] = field(default_factory=dict)
    content: CatalogContent | None = None
    """What the file held at its last good load (laid again over a derived catalog rebuilt from its source)."""

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.checked_at < self.interval:
            return False
        self.checked_at = now
        return True

    def changed(self) -> tuple[int, int] | None:
        """The file's new signature when it changed since the last load, else None."""
        sig = _signature(self.path)
        return sig if sig is not None and sig != self.signature else None

    def load(
        self, catalog: ModelCatalog, signature: tuple[int, int] | None = None, content: CatalogContent | None = None
    ) -> bool:
        """(Re-)apply the file to `catalog`; a file that cannot be read or breaks a rule of catalog files leaves
        the catalog as it was (a warning; on the first load, the error)."""
        from ._catalog_file import read_catalog

        self.signature = signature or _signature(self.path)
        try:
            if self.loaded and self.signature is not None and self.signature[1] == 0:
                # (an editor saving in place, or `open(path, "w")`, empties the file before writing it: read so, it
                # was a catalog of no model, and the file's models left the catalog until the next check)
                raise ConfigurationError(f"{self.path} is empty (being written?)")
            content = content or read_catalog(self.path)
            if self.loaded and _signature(self.path) != self.signature:  # written while it was read: what was read
                logger.debug("catalog file %s changed as it was read: read again at the next check", self.path)
                return False  # may be cut short (empty); the signature kept is the one before, so it is read again
            if content.include_default != self.include_default:
                raise ConfigurationError(
                    f"{self.path}: include_default changed: the catalog it starts from is chosen when the file is"
                    " first read (restart to apply)"
                )
            with catalog._transaction():
                self._apply(catalog, content)
            self.content = content
        except UserError as exc:
            if not self.loaded:  # the first load: the caller must know
                raise
            logger.warning("catalog file %s not reloaded, the previous models stay: %s", self.path, exc.message)
            return False
        if self.loaded and content.providers != self.endpoints:
            logger.warning(
                "catalog file %s: its [providers] changed; endpoints are built when an orchestrator starts"
                " (restart to apply), the models are reloaded",
                self.path,
            )
        if not self.loaded:
            self.endpoints = dict(content.providers)
            catalog._endpoints.update(content.providers)
        self.loaded = True
        return True

    def reapply(self, catalog: ModelCatalog) -> None:
        """Lay the file's last good content again over `catalog`, a derived catalog just rebuilt from its source
        (which dropped the file's models and aliases); what they replace is taken anew from the rebuilt catalog."""
        content = self.content
        if content is None:
            return
        self.underlay.clear()
        self.alias_underlay.clear()
        try:
            with catalog._transaction():
                self._apply(catalog, content)
        except UserError as exc:  # (an alias of the file names a model its source no longer has)
            logger.warning("catalog file %s not laid over the catalog's new source: %s", self.path, exc.message)

    def _apply(self, catalog: ModelCatalog, content: CatalogContent) -> None:
        models = {m.name: m for m in content.models}
        for name, earlier in list(self.underlay.items()):
            if name not in models:
                del self.underlay[name]
                if earlier is None:
                    catalog._drop(name)
                else:
                    catalog._put(earlier)
        carried = {alias: name for name, model in models.items() for alias in model.aliases}
        for name, model in models.items():
            if name not in self.underlay:
                self.underlay[name] = catalog._peek(name)
            self._note_aliases(catalog, model.aliases)  # (an alias a model of the file takes from another model:
            catalog._put(model)  # `gpt4` went nowhere once the file no longer had the model)
        aliases = content.resolve_aliases(catalog)
        for alias, earlier_target in list(self.alias_underlay.items()):
            if alias not in aliases and alias not in carried:
                del self.alias_underlay[alias]
                catalog._aliases.pop(alias, None)
                if earlier_target is not None:
                    catalog._alias(alias, earlier_target)
        for alias, target in aliases.items():
            self._note_aliases(catalog, (alias,))
            catalog._alias(alias, target)

    def _note_aliases(self, catalog: ModelCatalog, aliases: tuple[str, ...]) -> None:
        """Remember what `aliases` name before the file first points them (restored once the file drops them)."""
        for alias in aliases:
            if alias not in self.alias_underlay:
                self.alias_underlay[alias] = catalog._aliases.get(alias)


@dataclass(slots=True)
class Derivation:
    """How a derived catalog is rebuilt from its source, and the source's version it was built from."""

    source: ModelCatalog
    build: Callable[[ModelCatalog], tuple[list[ModelProfile], dict[str, str]]]
    seen: int = -1
