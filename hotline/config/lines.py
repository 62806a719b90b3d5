"""The ``lines`` section of config/hotline.yaml: each line's offices, hours after closing,
overflow, recording, and the escalation of its detention reports to the people on duty."""

from __future__ import annotations

from pydantic import Field, model_validator

from agents.rota import DutyRole
from hotline.config.fields import KeypadCode, Language, Name, Section
from hotline.config.offices import ExceptionModel
from routing.escalation import Chain
from routing.escalation import Step as EscalationStep


class AfterHoursModel(Section):
    prompt: Name | None = None
    line: Name | None = None
    callback: bool = False

    @model_validator(mode="after")
    def _line_or_callback(self) -> AfterHoursModel:
        if self.line is not None and self.callback:
            raise ValueError("choose one: another line, or a callback offer")
        return self


class OverflowModel(Section):
    after: float = Field(gt=0, le=3600)
    offices: list[Name] = Field(min_length=1)


class RecordingModel(Section):
    enabled: bool = False
    #: What the caller hears before waiting (None: nothing, where the law allows it).
    prompt: Name | None = "call-recorded"


class EscalationStepModel(Section):
    """One link of a line's escalation chain: ring the next person on duty as ``ring``."""

    ring: DutyRole
    #: Seconds left to a person who heard the report without a key, to accept it another
    #: way, before the next step.
    wait: int = Field(300, ge=0, le=86_400)
    #: Also text them (what was reported, the reference, a link to it: no recording, no
    #: caller's name) and e-mail them, as they are rung.
    sms: bool = False
    email: bool = False


class EscalationModel(Section):
    """How a line's detention reports reach a person on duty: each step in turn, then again
    from the top, until someone accepts the report or it is closed."""

    #: Whose duty people: one of the organisation's rotas (none: its first).
    rota: Name | None = None
    steps: list[EscalationStepModel] = Field(min_length=1, max_length=20)
    #: Text the family, on the number they left, their reference.
    family_sms: bool = False
    #: Seconds a person's phone rings.
    ring_timeout: int = Field(30, ge=10, le=120)
    #: A new round begins no sooner than this many seconds after the last one began.
    again_after: int = Field(300, ge=0, le=86_400)
    #: Nobody on duty to ring: looked for again after this many seconds.
    retry: int = Field(60, ge=10, le=3600)

    def build(self) -> Chain:
        return Chain(
            tuple(EscalationStep(s.ring, s.wait, s.sms, s.email) for s in self.steps),
            self.rota,
            self.family_sms,
            self.ring_timeout,
            self.again_after,
            self.retry,
        )


class LineModel(Section):
    offices: list[Name] = Field(min_length=1)
    priority: int = Field(0, ge=0, le=1000)
    titles: dict[Language, str] = {}
    after_hours: AfterHoursModel = AfterHoursModel()
    overflow: OverflowModel | None = None
    callback_abandoned: bool = False
    take_message_after: float | None = Field(None, ge=5, le=3600)
    recording: RecordingModel = RecordingModel()
    #: Its offices keep their hours on public holidays.
    open_on_holidays: bool = False
    #: What its calls can be about: the topics an operator picks in the wrap-up.
    topics: list[Name] = []
    #: What an operator keys after ## (blind) or *2 (attended) to transfer a caller here;
    #: unique within the organisation.
    code: KeypadCode | None = None
    #: Its detention reports rung through to the people on duty (routing/escalation.py).
    escalation: EscalationModel | None = None
    #: Exceptional openings and closures of the line itself, in its first office's time
    #: zone ("detention line open on 1 January"), over its offices' hours.
    exceptions: list[ExceptionModel] = []
