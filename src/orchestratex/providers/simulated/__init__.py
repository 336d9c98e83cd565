from ._provider import Faults, SimulatedProvider
__all__ = ["Faults", "SimulatedProvider"]
