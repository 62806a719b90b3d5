"""The hotline menus: what a caller hears and what their keys do. Pure: no I/O, no clock."""

from ivr.engine import (
    Ask,
    CallIO,
    Connect,
    Finish,
    MenuState,
    Route,
    Step,
    Text,
    press,
    resume,
    run_menus,
    start,
)
from ivr.flow import Action, Entry, Flow, Menu, Prompt

__all__ = [
    "Action",
    "Ask",
    "CallIO",
    "Connect",
    "Entry",
    "Finish",
    "Flow",
    "Menu",
    "MenuState",
    "Prompt",
    "Route",
    "Step",
    "Text",
    "press",
    "resume",
    "run_menus",
    "start",
]
