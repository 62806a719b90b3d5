"""The operators: who they are, what lines and languages they serve, where they work. Pure."""

from agents.operator import Operator

__all__ = ["Operator"]
