"""The ``numbers`` and ``menus`` sections of config/hotline.yaml: what a caller hears first
on each number, and the menus they press keys in (built into ivr's Flow by
hotline/config/loading.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from hotline.config.fields import Language, Name, Section
from ivr import Action


class ActionModel(Section):
    menu: Name | None = None
    line: Name | None = None
    centre: Name | None = None
    #: Text the caller this centre's address, hours and number, then the same menu again.
    sms: Name | None = None
    repeat: bool = False
    hangup: bool = False
    language: Language | None = None
    prompt: Name | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ActionModel:
        named = sum(t is not None for t in (self.menu, self.line, self.centre, self.sms))
        if named + self.repeat + self.hangup != 1:
            raise ValueError("needs exactly one of: menu, line, centre, sms, repeat, hangup")
        return self

    def build(self) -> Action:
        return Action(**self.model_dump())


class MenuModel(Section):
    prompt: Name
    options: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], ActionModel]
    timeout: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=5)
    no_input: ActionModel
    wrong_key: ActionModel | None = None
    wrong_key_prompt: Name | None = None
    speak_in: list[Language] = []


class NumberModel(Section):
    language: Language
    start: ActionModel
    fallback_line: Name
    greeting: Name | None = None
