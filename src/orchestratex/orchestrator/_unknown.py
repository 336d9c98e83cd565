"""A setting assigned on a built orchestrator under a name it does not have: refused, not kept unread.

`orchestrator.on_event = log` (the constructor's name for `handlers`), `orchestrator.max_iteration = 1` (a typo, in a
notebook between runs) or `orchestrator.cost_limit = 0.05` (an option of each run) made a new attribute that nothing
read: the next runs ran as before, without a word.
"""

from __future__ import annotations

from .._misspelt import refuse_misspelt
from ..exceptions import UserError

__all__ = ["check_new_attribute"]

_CONSTRUCTOR_ONLY = {
    "on_event": "set `orchestrator.handlers` (the handlers `on_event=` gave the constructor)",
    "simulate": "it is read by the constructor only: make a new `Orchestrator(simulate=...)`",
    "env": "it is read by the constructor only: make a new `Orchestrator(env=...)`",
}

_RUN = "it is an option of each run: `run(..., {name}=...)` (run_sync and run_stream take it too)"
_RUN_ONLY = {
    name: _RUN.format(name=name) for name in ("session", "thread", "user_id", "domain", "context", "stop_sequences")
}
"""The run options (`RunOptions`) that are no setting of the orchestrator, with what to write instead."""
_RUN_ONLY |= {
    "cost_limit": _RUN.format(name="cost_limit")
    + ", or a budget shared by a session's runs: `create_session(cost_limit=...)`, then `run(..., session=session)`",
    "preferred_models": _RUN.format(name="preferred_models")
    + ", or for a session's runs: `create_session(preferred_models=[...])`",
    "patience": _RUN.format(name="patience"),
    "threshold": "did you mean 'evaluation_threshold'?",
}


def check_new_attribute(orchestrator: object, name: str, *, typos: bool = True) -> None:
    """`UserError` for a public attribute the orchestrator does not have whose name is a constructor option it does not
    keep, or (with `typos`) close to one of its settings. Other new names are left alone; a subclass's own
    (`max_iteration_count`) are not taken for typos: `typos=False` for a subclass."""
    if name.startswith("_") or name in vars(orchestrator) or hasattr(type(orchestrator), name):
        return
    kind = type(orchestrator).__name__
    fix = _CONSTRUCTOR_ONLY.get(name)
    if fix is not None:
        raise UserError(f"{kind} has no setting {name!r}: {fix}")
    if not typos:
        return
    if name in _RUN_ONLY:  # (`cost_limit = 0.05` in a notebook cell: the next runs had no budget, without a word)
        raise UserError(f"{kind} has no setting {name!r}: {_RUN_ONLY[name]}")
    refuse_misspelt(orchestrator, name)
