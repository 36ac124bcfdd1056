"""Dataclasses whose __init__ is written out by hand (init=False; README, "Compiled build") take
exactly their fields, in order, with the fields' defaults, and stay frozen where declared so."""
from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import itertools
import sys
import types
import typing
from datetime import date, time
from pathlib import Path

import pytest

from scrubber.model import Locations

# the modules setup.py compiles that hold dataclasses
MODULES = ["scrubber.model", "scrubber.findings", "scrubber.patient_month", "scrubber.checker",
           "scrubber.engine", "scrubber.periods", "scrubber.catalogue", "scrubber.documentation",
           "x12.syntax837", "x12.guide837", "x12.elements837", "x12.tokenizer", "x12.envelope",
           "x12.reader", "x12.errors", "x12.writer", "x12.ack999", "x12.ack277", "x12.split",
           "scrubber.answers"]


def _written_out() -> list[type]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (isinstance(value, type) and value.__module__ == name and dataclasses.is_dataclass(value)
                    and not value.__dataclass_params__.init):  # type: ignore[attr-defined]
                found.append(value)
    return found


WRITTEN_OUT = _written_out()
_counter = itertools.count(1)


def _sample(kind, avoid=dataclasses.MISSING):
    """A value of type `kind` unlike any other this test made (and unlike `avoid`)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)), avoid)
    if origin is tuple:
        return (_sample(args[0]),)
    if origin is list:
        return [_sample(args[0])]
    if origin is dict:
        return {_sample(args[0]): _sample(args[1])}
    if origin in (set, frozenset):
        return origin({_sample(args[0])})
    if kind is bool:
        return not avoid if isinstance(avoid, bool) else True
    if kind is int:
        return next(_counter)
    if kind is float:
        return next(_counter) + 0.5
    if kind is str:
        return f"value-{next(_counter)}"
    if kind is date:
        return date(2026, 1, 1 + next(_counter) % 28)
    if kind is time:
        return time(next(_counter) % 24, 30)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(member for member in kind if member is not avoid)
    if dataclasses.is_dataclass(kind):
        return _build(kind)
    if kind is Locations:  # a protocol: a dict is one
        return {_sample(str): _sample(str)}
    raise AssertionError(f"no sample for {kind!r}: teach _sample this type")


def _hints(cls) -> dict:
    """Each field's type, read from the module's source: compiled, a dataclass's annotations and
    field types are erased (`str | None` becomes `type`), and the wheel ships the .py beside the .so."""
    module = sys.modules[cls.__module__]
    source = Path(module.__file__).with_name(cls.__module__.rsplit(".", 1)[-1] + ".py")
    tree = ast.parse(source.read_text("utf-8"))
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    namespace = dict(vars(module))
    return {item.target.id: eval(ast.unparse(item.annotation), namespace)  # noqa: S307
            for item in node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}


def _build(cls):
    hints = _hints(cls)
    return cls(**{f.name: _sample(hints[f.name], f.default) for f in dataclasses.fields(cls) if f.init})


def test_the_hot_classes_are_written_out():
    names = {cls.__qualname__ for cls in WRITTEN_OUT}
    assert {"Hit", "Finding", "PatientIdentity", "ServiceLine", "Claim", "BilledLine", "ClaimResult",
            "Outcome", "_Frame", "Window", "_Accepted"} <= names


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda cls: cls.__qualname__)
def test_init_takes_the_fields_by_keyword_and_position(cls):
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    values = {f.name: _sample(hints[f.name], f.default) for f in fields}
    by_keyword = cls(**values)
    for f in fields:
        assert getattr(by_keyword, f.name) == values[f.name], f.name
    by_position = cls(*[values[f.name] for f in fields])
    assert [getattr(by_position, f.name) for f in fields] == [values[f.name] for f in fields]
    with pytest.raises(TypeError):
        cls(**values, not_a_field=1)


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda cls: cls.__qualname__)
def test_init_defaults_are_the_fields_defaults(cls):
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    required = {f.name: _sample(hints[f.name]) for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    first, second = cls(**required), cls(**required)
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert getattr(first, f.name) == f.default, f.name
        elif f.default_factory is not dataclasses.MISSING:
            made = getattr(first, f.name)
            assert made == f.default_factory(), f.name
            assert made is not getattr(second, f.name), f"{f.name} is shared between instances"
    for name in required:
        missing = {k: v for k, v in required.items() if k != name}
        with pytest.raises(TypeError):
            cls(**missing)


@pytest.mark.parametrize("cls", [c for c in WRITTEN_OUT if c.__dataclass_params__.frozen],  # type: ignore[attr-defined]
                         ids=lambda cls: cls.__qualname__)
def test_frozen_stays_frozen(cls):
    instance = _build(cls)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, name, getattr(instance, name))
    assert instance == dataclasses.replace(instance)
