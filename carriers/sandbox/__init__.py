"""The built-in sandbox carrier: a simulated postal API on loopback and the adapter for it.

``SandboxService`` plays scripted journeys (``journeys.toml``) against an injected clock and can
misbehave on purpose; ``SandboxAdapter`` is the carrier adapter registered as ``sandbox``.
"""

from carriers.sandbox.adapter import SandboxAdapter
from carriers.sandbox.faults import Fault, FaultMode
from carriers.sandbox.journeys import (
    Journey,
    JourneyStep,
    journey_for_number,
    load_journeys,
    sandbox_number,
)
from carriers.sandbox.service import Registration, SandboxService, accelerated_clock

__all__ = [
    "Fault",
    "FaultMode",
    "Journey",
    "JourneyStep",
    "Registration",
    "SandboxAdapter",
    "SandboxService",
    "accelerated_clock",
    "journey_for_number",
    "load_journeys",
    "sandbox_number",
]
