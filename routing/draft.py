"""One of the queue's mappings while a step changes it: read where it is, copied on the first
write. The queue the step started from stays as it was, and a mapping the step only reads is
handed on as it came (the copies cost a step in proportion to the queue's size)."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, MutableMapping, ValuesView
from types import MappingProxyType
from typing import TypeVar, overload

V = TypeVar("V")
T = TypeVar("T")

_ABSENT = object()


class Draft(MutableMapping[str, V]):
    """A mapping by call, operator or timer, as the step has it so far."""

    # the methods a step calls are defined here, not left to MutableMapping's mixins: those
    # go through __getitem__ and a KeyError, and a step runs for every call event
    __slots__ = ("_copy", "_now")

    def __init__(self, before: Mapping[str, V]) -> None:
        self._now: Mapping[str, V] = before
        self._copy: dict[str, V] | None = None

    def view(self) -> Mapping[str, V]:
        """The mapping as it is now, read-only: the queue's own if unwritten, else a view of
        the copy (not a copy of it: it shows what is written after)."""
        return self._now if self._copy is None else MappingProxyType(self._copy)

    def _write(self) -> dict[str, V]:
        copy = self._copy
        if copy is None:
            copy = self._copy = dict(self._now)
            self._now = copy
        return copy

    # -- reading -----------------------------------------------------------------------------
    def __getitem__(self, key: str) -> V:
        return self._now[key]

    def __contains__(self, key: object) -> bool:
        return key in self._now

    def __iter__(self) -> Iterator[str]:
        return iter(self._now)

    def __len__(self) -> int:
        return len(self._now)

    @overload
    def get(self, key: str, /) -> V | None: ...
    @overload
    def get(self, key: str, default: V, /) -> V: ...
    @overload
    def get(self, key: str, default: T, /) -> V | T: ...
    def get(self, key: str, default: object = None, /) -> object:
        return self._now.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._now.keys()

    def values(self) -> ValuesView[V]:
        return self._now.values()

    def items(self) -> ItemsView[str, V]:
        return self._now.items()

    # -- writing -----------------------------------------------------------------------------
    def __setitem__(self, key: str, value: V) -> None:
        self._write()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._write()[key]

    @overload
    def pop(self, key: str, /) -> V: ...
    @overload
    def pop(self, key: str, default: V, /) -> V: ...
    @overload
    def pop(self, key: str, default: T, /) -> V | T: ...
    def pop(self, key: str, default: object = _ABSENT, /) -> object:
        if key in self._now:
            return self._write().pop(key)
        if default is _ABSENT:
            raise KeyError(key)
        return default  # nothing removed: nothing copied
