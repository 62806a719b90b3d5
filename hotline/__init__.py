"""The hotline service: wires the pure domain (ivr, routing, agents) to Asterisk, HTTP and disk."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotline")
except PackageNotFoundError:  # (run from a checkout that was never installed)
    __version__ = "0+unknown"
