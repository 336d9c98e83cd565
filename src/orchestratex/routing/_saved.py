"""Reading a `FittedRouter` file: every way a file can fail to be one is a `UserError` naming the file and the fault."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

from ..exceptions import UserError

__all__ = ["ARRAYS", "read_saved", "unreadable"]

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
    if meta.get("format") != form:
        raise unreadable(path, f"format {meta.get('format')!r}, expected {form!r}")
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
    need("models", len(set(models)) == len(models))
    need("domains", isinstance(domains, list) and all(isinstance(d, str) for d in domains))
    need("quality_scale", _finite(meta.get("quality_scale")) and meta["quality_scale"] > 0)
    need("idf_unseen", _finite(meta.get("idf_unseen")))
    need("featurizer", isinstance(meta.get("featurizer"), dict))
    need(
        "fit_prices", isinstance(prices, dict) and all(m in models and _finite(p) and p > 0 for m, p in prices.items())
    )
    for key in ("text", "cascade"):
        need(key, isinstance(meta.get(key, True), bool))


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
