"""The offline model-ecosystem simulator: `SimulatedProvider`, and the `Faults` it can inject."""

from ._faults import Faults
from ._provider import SimulatedProvider

__all__ = ["Faults", "SimulatedProvider"]
