"""A Northflank API simulator for the demo, the tests and the benchmarks (not shipped in the image).

Faithful to ../shared/reference/northflank-api.md: the same routes (project and team), the
``{"data"}`` / ``{"error"}`` envelopes, rate-limit headers on every response, request bodies
validated against the official schemas, and a build lifecycle whose timing, outcome and
faults a test chooses.
"""

from .server import Fault, Recorded, Simulator
from .state import BuildPlan, DurationMix

__all__ = ["BuildPlan", "DurationMix", "Fault", "Recorded", "Simulator"]
