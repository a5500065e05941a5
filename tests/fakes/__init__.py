"""Local fakes of the calendar providers: `python -m tests.fakes` runs them for a person."""

from tests.fakes.base import FaultPlan, OAuthFake, ServerThread, serving
from tests.fakes.google import FakeGoogle
from tests.fakes.microsoft import FakeMicrosoft

__all__ = ["FakeGoogle", "FakeMicrosoft", "FaultPlan", "OAuthFake", "ServerThread", "serving"]
