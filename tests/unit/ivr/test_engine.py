"""The menu engine over the default deployment's menus: what each answer leads to."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.config.deployment import Deployment
from ivr import Ask, Connect, Finish, Prompt, Route, run_menus


class ScriptedCaller:
    """A CallIO that answers each question with the next scripted key (None: silence)."""

    def __init__(self, keys: Sequence[str | None]) -> None:
        self.keys = list(keys)
        self.heard: list[tuple[Prompt, ...]] = []

    async def ask(self, prompts: Sequence[Prompt], timeout: float) -> str | None:
        self.heard.append(tuple(prompts))
        if not self.keys:
            raise AssertionError(f"asked once more than scripted: {prompts}")
        return self.keys.pop(0)


@pytest.mark.parametrize(
    ("number", "keys", "line", "language", "path"),
    [
        ("0800213103", ["1", "1"], "consultation", "uk", ["language:1", "main:1"]),
        ("0800213103", ["1", "2"], "detention", "uk", ["language:1", "main:2"]),
        ("0800213103", ["2", "3"], "rehabilitation", "en", ["language:2", "main:3"]),
        ("0800213103", ["2", "4"], "information", "en", ["language:2", "main:4"]),
        ("0800213103", ["1", "0"], "information", "uk", ["language:1", "main:0"]),
        ("0800213103", ["1", "*", "2"], "detention", "uk", ["language:1", "main:*", "main:2"]),
        ("0800213103", ["1", "7", "1"], "consultation", "uk", ["language:1", "main:7", "main:1"]),
        # silence everywhere: Ukrainian after one re-prompt, then an operator after two
        (
            "0800213103",
            [None] * 5,
            "information",
            "uk",
            [
                "language:timeout",
                "language:timeout",
                "main:timeout",
                "main:timeout",
                "main:timeout",
            ],
        ),
        # wrong keys until the retries run out: an operator too
        (
            "0800213103",
            ["2", "9", "8", "#"],
            "information",
            "en",
            ["language:2", "main:9", "main:8", "main:#"],
        ),
        ("0322920055", ["2"], "ge-consultation", "en", ["consultation-language:2"]),
        ("0322920055", ["3"], "ge-consultation", "ru", ["consultation-language:3"]),
        (
            "0322920055",
            [None, None],
            "ge-consultation",
            "ka",
            ["consultation-language:timeout", "consultation-language:timeout"],
        ),
        ("2145145", [], "ge-rehabilitation", "ka", []),
    ],
)
async def test_keys_lead_to_line(
    deployment: Deployment,
    number: str,
    keys: list[str | None],
    line: str,
    language: str,
    path: list[str],
) -> None:
    caller = ScriptedCaller(keys)
    answers: list[tuple[str, str | None, str]] = []
    result = await run_menus(
        deployment.flow, deployment.flow.entries[number], caller, lambda *a: answers.append(a)
    )
    assert isinstance(result, Route)
    assert (result.line, result.language, list(result.path)) == (line, language, path)
    assert caller.keys == []
    assert len(answers) == len(keys)


async def test_language_menu_speaks_each_language_then_the_choice(deployment: Deployment) -> None:
    caller = ScriptedCaller(["2", "4"])
    await run_menus(deployment.flow, deployment.flow.entries["0800213103"], caller)
    first, second = caller.heard
    assert first == (
        Prompt("uk", "welcome"),
        Prompt("uk", "choose-language"),
        Prompt("en", "choose-language"),
        Prompt("ru", "choose-language"),
    )
    assert second == (Prompt("en", "main-menu"),)


async def test_star_repeats_and_a_wrong_key_is_named(deployment: Deployment) -> None:
    caller = ScriptedCaller(["1", "*", "7", "1"])
    await run_menus(deployment.flow, deployment.flow.entries["0800213103"], caller)
    assert caller.heard[2] == (Prompt("uk", "main-menu"),)
    assert caller.heard[3] == (Prompt("uk", "wrong-key"), Prompt("uk", "main-menu"))


async def test_operator_prompt_said_on_the_way(deployment: Deployment) -> None:
    result = await run_menus(
        deployment.flow, deployment.flow.entries["0800213103"], ScriptedCaller(["1", "0"])
    )
    assert isinstance(result, Route)
    assert result.prompts == (Prompt("uk", "connecting-operator"),)


def test_steps_are_values() -> None:
    from ivr import Action, Entry, Flow, Menu, press, start

    menu = Menu(
        "m",
        "p",
        {"1": Action(hangup=True, prompt="bye")},
        no_input=Action(repeat=True),
        wrong_key=Action(hangup=True),
        retries=0,
    )
    flow = Flow({"m": menu}, {"1": Entry("1", "en", Action(menu="m"), "x")})
    state, step = start(flow, flow.entries["1"])
    assert step == Ask((Prompt("en", "p"),), 5.0)
    state, step = press(flow, state, "1")
    assert step == Finish("en", ("m:1",), (Prompt("en", "bye"),))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"menu": "a", "line": "b"}, {"repeat": True, "hangup": True}],
)
def test_action_needs_exactly_one_target(kwargs: dict[str, object]) -> None:
    from ivr import Action

    with pytest.raises(ValueError, match="exactly one"):
        Action(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["0800213103", "0322920055", "2145145"]),
    st.lists(st.one_of(st.none(), st.sampled_from(list("0123456789*#")), st.text(max_size=3))),
)
def test_any_keys_end_on_a_line_or_a_goodbye(
    deployment: Deployment, number: str, keys: list[str | None]
) -> None:
    """Random and malformed DTMF (None: no input): every caller ends on a line, a centre or a
    goodbye, within a bounded number of questions once they stop pressing keys, in one of the
    deployment's languages."""
    from ivr import Text, press, resume, start

    flow = deployment.flow
    state, step = start(flow, flow.entries[number])
    answers = iter(keys)
    asked = 0
    while isinstance(step, Ask | Text):
        if isinstance(step, Text):  # a centre's SMS: back in the menu
            assert step.centre in deployment.centres
            state, step = resume(flow, state, ())
            continue
        asked += 1
        assert asked <= len(keys) + 20, "the menus never let the caller go"
        state, step = press(flow, state, next(answers, None))
    assert isinstance(step, Route | Connect | Finish)
    if isinstance(step, Connect):
        assert step.centre in deployment.centres and step.language in deployment.languages
    if isinstance(step, Route):
        assert step.line in deployment.lines and step.language in deployment.languages


async def test_a_centres_sms_is_asked_for_and_the_caller_is_back_in_its_menu(
    deployment: Deployment,
) -> None:
    """1 (Ukrainian), 5 (centres), 3 (Kyiv), 2 (its address by SMS): the service is asked to
    text it, the caller hears what it says of that, then Kyiv's menu again, and 1 connects."""
    from ivr import Text

    asked: list[Text] = []

    async def texter(step: Text) -> list[Prompt]:
        asked.append(step)
        return [Prompt(step.language, "sms-sent")]

    caller = ScriptedCaller(["1", "5", "3", "2", "1"])
    result = await run_menus(
        deployment.flow, deployment.flow.entries["0800213103"], caller, on_text=texter
    )
    assert asked == [Text("kyiv", "uk", ("language:1", "main:5", "centres:3", "centre-kyiv:2"))]
    assert caller.heard[4] == (Prompt("uk", "sms-sent"), Prompt("uk", "centre-options"))
    assert isinstance(result, Connect) and result.centre == "kyiv"
