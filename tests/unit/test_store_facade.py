"""The typed async store facade (tevo_bridge/store/facade.py) stays in step with the ``Store`` interface.

A method added to ``Store`` without its facade method, or one whose parameters drift, fails here rather
than as an AttributeError on the worker; each facade method must also reach the same store method, with
the same arguments, on the store thread.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from tevo_bridge.store import AsyncStore, SqliteStore
from tevo_bridge.store.base import Store
from tevo_bridge.store.facade import StoreFacade

#: Store methods with no awaitable twin, on purpose: see the facade module's docstring.
NOT_AWAITED = {"batch", "close"}


def _public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in vars(cls).items() if not name.startswith("_") and callable(fn)}


STORE_METHODS = sorted(set(_public_methods(Store)) - NOT_AWAITED)


def _parameters(fn: Callable[..., Any]) -> list[tuple[str, Any, Any, Any]]:
    return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", STORE_METHODS)
def test_every_store_method_has_an_async_facade_method_with_the_same_parameters(name: str) -> None:
    store_method = vars(Store)[name]
    facade_method = vars(StoreFacade).get(name)
    assert facade_method is not None, f"StoreFacade has no {name}: add it to tevo_bridge/store/facade.py"
    assert inspect.iscoroutinefunction(facade_method)
    assert _parameters(facade_method) == _parameters(store_method)
    assert inspect.signature(facade_method).return_annotation == inspect.signature(store_method).return_annotation


def test_the_facade_has_no_method_the_store_interface_lacks() -> None:
    extra = set(_public_methods(StoreFacade)) - {"call"} - set(STORE_METHODS)
    assert not extra, f"not in the Store interface: {sorted(extra)}"


def test_a_misspelt_store_method_is_an_attribute_error_not_a_call(tmp_path) -> None:
    store = AsyncStore(SqliteStore(tmp_path / "state.sqlite3"))
    try:
        assert not hasattr(store, "get_ordr")
    finally:
        store.close()


class RecordingStore:
    """Stands in for a Store: records which method ran, with what, on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = []
        self.in_batch = False

    @contextmanager
    def batch(self, *, savepoints: bool = True, durable: bool = True) -> Iterator[None]:
        self.in_batch = True
        try:
            yield
        finally:
            self.in_batch = False

    def make_durable(self) -> None:
        if not self.in_batch:
            return  # AsyncStore's own, after every group (store/aio.py): not a call the facade made
        self.calls.append(("make_durable", (), {}, threading.current_thread().name))

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in STORE_METHODS:
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs, threading.current_thread().name))
            return f"result of {name}"

        return method


def _arguments(fn: Callable[..., Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A distinct object for every parameter: positional ones by position, keyword-only ones by name (a job
    with no order, which the facade asks for its order when it may have settled one: store/watch.py)."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is p.POSITIONAL_OR_KEYWORD:
            args.append(SimpleNamespace(order_id=None) if p.annotation == "Job" else object())
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = object()
        elif p.kind is p.VAR_KEYWORD:
            kwargs["some_field"] = object()
    return tuple(args), kwargs


@pytest.mark.parametrize("name", STORE_METHODS)
async def test_each_facade_method_forwards_to_the_same_store_method_on_the_store_thread(name: str) -> None:
    sync = RecordingStore()
    store = AsyncStore(sync)  # type: ignore[arg-type]  # a stand-in that records instead of storing
    try:
        args, kwargs = _arguments(getattr(StoreFacade, name))
        result = await getattr(store, name)(*args, **kwargs)
    finally:
        store.close()
    assert len(sync.calls) == 1
    called, got_args, got_kwargs, thread = sync.calls[0]
    assert called == name
    assert len(got_args) == len(args) and all(a is b for a, b in zip(got_args, args, strict=True))
    assert got_kwargs.keys() == kwargs.keys() and all(got_kwargs[k] is kwargs[k] for k in kwargs)
    assert thread.startswith("store-") and thread != threading.current_thread().name
    returns_nothing = inspect.signature(getattr(Store, name)).return_annotation == "None"
    assert result == (None if returns_nothing else f"result of {name}")
