"""A policy is frozen: assigning one of its attributes (a typo above all) is a `FrozenInstanceError` that names the
field and says how to change it; a typo failed with CPython's "TypeError: super(type, obj): obj must be an instance or
subtype of type" (a frozen dataclass with slots, 3.11 to 3.13), which named neither."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from orchestratex import Orchestrator
from orchestratex.orchestrator import CircuitPolicy, OutputCapPolicy, RetryPolicy


@pytest.mark.parametrize(
    ("policy", "name", "message"),
    [
        (
            RetryPolicy(),
            "max_attempt",
            r"^RetryPolicy has no field 'max_attempt': did you mean 'max_attempts'\? It is frozen: make a new one, "
            r"dataclasses.replace\(policy, max_attempts=\.\.\.\), and set it in the old one's place "
            r"\(orchestrator.retry = \.\.\.\)$",
        ),
        (CircuitPolicy(), "cooldown", r"^CircuitPolicy has no field 'cooldown': did you mean 'cooldown_s'\?"),
        (
            OutputCapPolicy(),
            "head_room",
            r"^OutputCapPolicy has no field 'head_room': did you mean 'headroom'\?.*"
            r"\(orchestrator.output_cap = \.\.\.\)$",
        ),
        (
            CircuitPolicy(),
            "cool",
            r"^CircuitPolicy has no field 'cool': its fields are failure_threshold, cooldown_s\.",
        ),
        (RetryPolicy(), "max_attempts", r"^RetryPolicy is frozen: cannot assign its field 'max_attempts'; make a new"),
    ],
)
def test_an_assignment_names_the_field(policy: object, name: str, message: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError, match=message):
        setattr(policy, name, 3)
    with pytest.raises(AttributeError, match=rf"cannot delete its field|has no field '{name}'"):
        delattr(policy, name)


def test_the_policies_keep_their_slots_and_are_copied_as_before() -> None:
    policy = RetryPolicy(max_attempts=4, initial_wait=0.01)
    assert not hasattr(policy, "__dict__")
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert dataclasses.replace(policy, max_attempts=2).max_attempts == 2
    orchestrator = Orchestrator(simulate=True)
    orchestrator.retry = dataclasses.replace(orchestrator.retry, max_attempts=5)  # (what the message says to do)
    assert orchestrator.retry.max_attempts == 5
