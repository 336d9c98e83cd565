"""Saved `FittedRouter` files: `save_router` writes one (a numpy `.npz`, no pickle), `load_router` reads one back.

Reading checks the file first: every way a file can fail to be one is a `UserError` naming the file and the fault.
"""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..exceptions import UserError
from ._features import TextFeaturizer, load_numpy
from ._joint import JointOutcomes

if TYPE_CHECKING:
    from ._embed import MiniLMEmbedder
    from .fitted import FittedRouter

__all__ = ["ARRAYS", "FORMAT", "load_router", "read_saved", "save_router", "unreadable"]

FORMAT = "orchestratex.fitted-router/1"
"""The `format` of the metadata of a file `FittedRouter.save` writes."""

ARRAYS = ("mean_q", "mean_c", "buckets", "coef", "idf")
"""The arrays every saved router holds (`joint_q` and `joint_dom` are optional)."""
_ZIP = b"PK\x03\x04"
_NPY = b"\x93NUMPY"


def unreadable(path: Path, why: str) -> UserError:
    return UserError(f"{str(path)!r} is not a saved FittedRouter: {why}")


def read_saved(path: Path, form: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metadata and arrays of a file written by `FittedRouter.save` (format `form`), checked for shape."""
    import numpy as np

    _sniff(path)
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:  # (closed whatever np.load does)
            missing = [k for k in ("meta", *ARRAYS) if k not in data.files]
            if missing:
                raise unreadable(path, f"the archive has no {', '.join(missing)} (an archive of something else?)")
            text = data["meta"]
            if text.shape != () or text.dtype.kind != "U":
                raise unreadable(path, "its metadata is not a JSON text")
            meta_text = str(text)
            arrays = {k: data[k] for k in (*ARRAYS, "joint_q", "joint_dom") if k in data.files}
    except UserError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise unreadable(path, "it holds pickled (object) data, which is never loaded") from exc
        raise unreadable(path, f"it is damaged ({exc}); save the router again") from exc
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise unreadable(path, f"it is damaged or cut short ({exc}); save or copy it again") from exc
    try:
        meta = json.loads(meta_text)
    except ValueError as exc:
        raise unreadable(path, f"its metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise unreadable(path, f"its metadata is a JSON {type(meta).__name__}, not an object")
    found = meta.get("format")
    if isinstance(found, str) and found != form and found.split("/")[0] == form.split("/")[0]:
        raise UserError(
            f"{str(path)!r} is a FittedRouter saved in format {found!r} by another version of OrchestrateX; this "
            f"one reads {form!r}: load it with the version that saved it, or fit and save the router again"
        )
    if found != form:
        raise unreadable(path, f"format {found!r}, expected {form!r}")
    _check_meta(path, meta)
    _check_arrays(path, meta, arrays)
    return meta, arrays


def _sniff(path: Path) -> None:
    """Refuse, by its first bytes, a file that is not a .npz archive."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_ZIP))
    except OSError as exc:
        raise unreadable(path, exc.strerror or type(exc).__name__) from exc
    if not head:
        raise unreadable(path, "the file is empty")
    if head.startswith(_NPY[: len(head)]):
        raise unreadable(path, "it is a single numpy array (.npy); FittedRouter.save writes a .npz archive")
    if head != _ZIP:
        raise unreadable(path, "it is not a .npz archive (FittedRouter.save writes one)")


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    def need(key: str, ok: bool) -> None:
        if not ok:
            raise unreadable(path, f"its metadata has no valid {key!r} ({meta.get(key)!r})")

    models, domains, prices = meta.get("models"), meta.get("domains"), meta.get("fit_prices")
    need("models", isinstance(models, list) and bool(models) and all(isinstance(m, str) for m in models))
    models = meta["models"]
    need("domains", isinstance(domains, list) and all(isinstance(d, str) for d in domains))
    _check_distinct(path, "model", models)
    _check_distinct(path, "domain", meta["domains"])
    need("quality_scale", _finite(meta.get("quality_scale")) and meta["quality_scale"] > 0)
    need("idf_unseen", _finite(meta.get("idf_unseen")))
    need("featurizer", isinstance(meta.get("featurizer"), dict))
    need(
        "fit_prices", isinstance(prices, dict) and all(m in models and _finite(p) and p > 0 for m, p in prices.items())
    )
    for key in ("text", "cascade"):
        need(key, isinstance(meta.get(key, True), bool))


def _check_distinct(path: Path, kind: str, names: list[str]) -> None:
    """Refuse metadata naming a model or a domain twice (its rows or columns would be read under the wrong name)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise unreadable(path, f"its metadata lists the {kind} {name!r} twice; save the router again")
        seen.add(name)


def _check_arrays(path: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
    import numpy as np

    m, d = len(meta["models"]), len(meta["domains"])
    buckets, idf = arrays["buckets"], arrays["idf"]
    shapes = {
        "mean_q": (d + 1, m),
        "mean_c": (d + 1, m),
        "coef": (m, buckets.size),
        "buckets": (buckets.size,),
    }
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise unreadable(path, f"{key} has shape {arrays[key].shape}, expected {shape} for {m} models")
    if idf.shape not in ((0,), (buckets.size,)):
        raise unreadable(path, f"idf has shape {idf.shape}, expected (0,) or {(buckets.size,)}")
    for key in ("mean_q", "mean_c", "coef", "idf", "buckets"):
        if arrays[key].dtype.kind not in "fiu" or not np.isfinite(arrays[key]).all():
            raise unreadable(path, f"{key} holds values that are not finite numbers")
    if buckets.size and (np.any(np.diff(buckets) <= 0) or buckets[0] < 0 or buckets[-1] >= 2**24):
        raise unreadable(path, "its feature buckets are not distinct, sorted bucket numbers")
    if ("joint_q" in arrays) != ("joint_dom" in arrays):
        raise unreadable(path, "it has one of joint_q and joint_dom without the other")
    if "joint_q" in arrays:
        joint_q, joint_dom = arrays["joint_q"], arrays["joint_dom"]
        rows = len(joint_dom)
        if joint_q.shape != (rows, m) or joint_dom.ndim != 1:
            raise unreadable(path, f"joint_q has shape {joint_q.shape}, expected {(rows, m)}")
        if rows and (joint_dom.dtype.kind not in "iu" or joint_dom.min() < 0 or joint_dom.max() >= d):
            raise unreadable(path, f"joint_dom names domains outside the {d} of the file")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def save_router(router: FittedRouter, path: str | Path) -> Path:
    """What `FittedRouter.save` does (see there)."""
    np = load_numpy()
    router._check_fitted()
    given = os.fspath(path) if isinstance(path, str | os.PathLike) else path
    if isinstance(given, str) and given.endswith(("/", os.sep)):  # (Path() drops the slash: a file "models" was made)
        raise UserError(
            f"cannot save the FittedRouter to {given!r}: it names a folder: give a file name, e.g. {given}router.npz"
        )
    path = Path(path).expanduser()  # ("~/models/r.npz" is in the home folder, not a folder "~")
    meta = {
        "format": FORMAT,
        "models": list(router.models),
        "domains": list(router._domains),
        "quality_scale": router.quality_scale,
        "fit_prices": router._fit_prices,
        "cost_weight": router.cost_weight,
        "target_quality": router.target_quality,
        "alpha": router.alpha,
        "text": router.text,
        "features": router.features,
        "domain_prior": router.domain_prior,
        "cascade": router.cascade,
        "horizon": router.horizon,
        "judge_error": router.judge_error,
        "smoothing": router.smoothing,
        "retry_prior": router.retry_prior,
        "idf_unseen": float(router.featurizer.idf.max()) if router.featurizer.idf is not None else 1.0,
        "featurizer": {
            "bits": router.featurizer.bits,
            "tail_chars": router.featurizer.tail_chars,
            "bigrams": router.featurizer.bigrams,
        },
    }
    idf = router.featurizer.idf if router.featurizer.idf is not None else np.zeros(0)
    arrays = {
        "meta": np.asarray(json.dumps(meta)),
        "mean_q": router._mean_q,
        "mean_c": router._mean_c,
        "buckets": router._buckets,
        "coef": router._coef,
        "joint_q": router._joint.quality if router._joint is not None else np.zeros((0, len(router.models))),
        "joint_dom": router._joint.domains if router._joint is not None else np.zeros(0, dtype=np.int64),
        "idf": idf[router._buckets] if idf.size else idf,
    }
    _write_atomically(path, lambda fh: np.savez_compressed(fh, **arrays))
    return path


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` through a temporary file beside it, creating missing parent folders.

    The file appears whole or not at all: a save that fails (a full disk, Ctrl-C) leaves an earlier router file
    at `path` as it was. Any `OSError` is a `UserError` naming the path and the cause.
    """
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder: give a file name, e.g. router.npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fh = tmp.open("xb")  # (not mkstemp: the file gets the umask's mode, as a plain open gives)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    try:
        with fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _unwritable(path, exc) from exc
        raise


def _unwritable(path: Path, exc: OSError) -> UserError:
    cause = exc.strerror or str(exc) or type(exc).__name__
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        return UserError(f"cannot save the FittedRouter to {str(path)!r}: {str(blocker)!r} is a file, not a folder")
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return UserError(f"cannot save the FittedRouter to {str(path)!r}: {cause}{where}")


def load_router(cls: type[FittedRouter], path: str | Path, *, embedder: MiniLMEmbedder | None) -> FittedRouter:
    """What `FittedRouter.load` does (see there)."""
    np = load_numpy()
    path = Path(path).expanduser()
    meta, arrays = read_saved(path, FORMAT)
    try:
        router = cls(
            cost_weight=meta["cost_weight"],
            target_quality=meta["target_quality"],
            alpha=meta["alpha"],
            text=meta["text"],
            domain_prior=meta["domain_prior"],
            featurizer=TextFeaturizer(**meta["featurizer"]),
            features=meta.get("features", "tfidf"),
            embedder=embedder,
            cascade=meta.get("cascade", True),
            horizon=meta.get("horizon", 3),
            judge_error=meta.get("judge_error", 0.0),
            smoothing=meta.get("smoothing", 2.0),
            retry_prior=meta.get("retry_prior", 2.0),
        )
    except KeyError as exc:
        raise unreadable(path, f"its metadata has no {exc.args[0]!r}") from exc
    except (UserError, TypeError, ValueError) as exc:
        raise unreadable(path, f"its settings are invalid ({exc})") from exc
    router.models = tuple(meta["models"])
    router._domains = {d: i for i, d in enumerate(meta["domains"])}
    router.quality_scale = float(meta["quality_scale"])
    router._fit_prices = {k: float(v) for k, v in meta["fit_prices"].items()}
    router._mean_q, router._mean_c = arrays["mean_q"].astype(np.float64), arrays["mean_c"].astype(np.float64)
    router._buckets, router._coef = arrays["buckets"].astype(np.int64), arrays["coef"].astype(np.float64)
    if router.features == "tfidf" and router._buckets.size and router._buckets[-1] >= router.featurizer.size:
        raise unreadable(path, f"its feature buckets exceed the featurizer's {router.featurizer.size}")
    idf = np.full(router.featurizer.size, float(meta["idf_unseen"]))
    if arrays["idf"].size:
        idf[router._buckets] = arrays["idf"]
    router.featurizer.idf = idf
    if "joint_q" in arrays and len(arrays["joint_q"]):
        router._joint = JointOutcomes(
            arrays["joint_q"], arrays["joint_dom"], len(router._domains), smoothing=router.smoothing
        )
    return router
