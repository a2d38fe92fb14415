"""Shared pytest fixtures: the Pulumi engine harness and the hvsim lab."""
from engine_harness import *  # noqa: F401,F403
from hvsim_fixtures import *  # noqa: F401,F403
