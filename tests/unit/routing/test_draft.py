"""A queue's mapping during a step (routing/draft.py): read where it is, copied on the first
write, so the queue the step started from stays as it was."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from routing.draft import Draft


def queue_mapping() -> MappingProxyType[str, int]:
    return MappingProxyType({"c1": 1, "c2": 2})


def test_reading_copies_nothing() -> None:
    before = queue_mapping()
    draft = Draft(before)
    assert (draft["c1"], draft.get("c2"), draft.get("c3"), draft.get("c3", 0)) == (1, 2, None, 0)
    assert ("c1" in draft, "c3" in draft, len(draft)) == (True, False, 2)
    assert (list(draft), list(draft.values()), dict(draft.items())) == (
        ["c1", "c2"],
        [1, 2],
        {"c1": 1, "c2": 2},
    )
    assert draft.view() is before


def test_writes_go_to_a_copy_the_mapping_it_came_from_stays() -> None:
    before = queue_mapping()
    draft = Draft(before)
    draft["c3"] = 3
    del draft["c1"]
    assert draft.pop("c2") == 2
    assert dict(before) == {"c1": 1, "c2": 2}
    assert dict(draft) == {"c3": 3}
    assert dict(draft.view()) == {"c3": 3}
    with pytest.raises(TypeError):
        draft.view()["c4"] = 4  # type: ignore[index]  # (read-only, as a queue's are)


def test_removing_what_is_not_there() -> None:
    before = queue_mapping()
    draft = Draft(before)
    assert draft.pop("c9", None) is None
    assert draft.view() is before  # nothing removed: nothing copied
    with pytest.raises(KeyError):
        draft.pop("c9")
    with pytest.raises(KeyError):
        del draft["c9"]
    assert dict(before) == {"c1": 1, "c2": 2}
