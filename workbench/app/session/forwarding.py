"""Compatibility names of ``WorkbenchSession``.

Before the session was made of parts, every method and every piece of state sat on the
session itself (``session.diagnose()``, ``session.start_compare()``, ``session.comparison``).
Those names still work, forwarded to the part that owns them, and keep their types for
mypy: ``Attr`` for state (read and assigned on the part), ``Method`` for a
part's method, ``Start`` for the old ``start_x`` names (``session.start(part.x, ...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from workbench.app.session.tasks import Task

__all__ = ["Attr", "Method", "Start"]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class _Starter(Protocol):
    def start(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Task[R]: ...


class Attr(Generic[T]):
    """``session.<name>``: the attribute ``name`` (or ``attr``) of the part ``part``."""

    def __init__(self, part: str, attr: str = "") -> None:
        self.part, self.attr = part, attr

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = self.attr or name

    @overload
    def __get__(self, obj: None, owner: type) -> Attr[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Attr[T] | T:
        if obj is None:
            return self
        value: T = getattr(getattr(obj, self.part), self.attr)
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(getattr(obj, self.part), self.attr, value)


class Method(Generic[P, R]):
    """``session.<name>(...)``: the method ``method`` of the part ``part``, bound."""

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.part, self.name = part, method.__name__

    @overload
    def __get__(self, obj: None, owner: type) -> Method[P, R]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: object | None, owner: type) -> Method[P, R] | Callable[P, R]:
        if obj is None:
            return self
        bound: Callable[P, R] = getattr(getattr(obj, self.part), self.name)
        return bound


class Start(Generic[P, R]):
    """``session.start_<x>(...)``: ``session.start(session.<part>.<method>, ...)``."""

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.part, self.name = part, method.__name__

    @overload
    def __get__(self, obj: None, owner: type) -> Start[P, R]: ...
    @overload
    def __get__(self, obj: _Starter, owner: type) -> Callable[P, Task[R]]: ...
    def __get__(self, obj: _Starter | None, owner: type
                ) -> Start[P, R] | Callable[P, Task[R]]:
        if obj is None:
            return self
        session = obj
        bound: Callable[P, R] = getattr(getattr(obj, self.part), self.name)

        def start(*args: P.args, **kwargs: P.kwargs) -> Task[R]:
            return session.start(bound, *args, **kwargs)

        start.__doc__ = f"``session.start(session.{self.part}.{self.name}, ...)``: " + (
            bound.__doc__ or "").split("\n")[0]
        return start
