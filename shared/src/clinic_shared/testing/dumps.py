"""Checks that a response schema on ``FastDumpSchema`` dumps exactly as marshmallow would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from marshmallow import Schema

from clinic_shared.web.fast_dump import FastDumpSchema


def fast_keys(schema: Schema) -> set[str]:
    """The keys this schema dumps with its own converters rather than marshmallow's Field.serialize."""
    assert isinstance(schema, FastDumpSchema)
    steps = schema._compiled_steps()
    return set() if steps is None else {key for key, _, convert, _ in steps if convert is not None}


@contextmanager
def marshmallow_only() -> Iterator[None]:
    """Every FastDumpSchema, nested ones too, dumps with marshmallow's own ``Schema._serialize`` meanwhile."""
    fast = FastDumpSchema.__dict__["_serialize"]
    FastDumpSchema._serialize = Schema._serialize  # type: ignore[method-assign]
    try:
        yield
    finally:
        FastDumpSchema._serialize = fast  # type: ignore[method-assign]


def assert_dumps_as_marshmallow(schema: Schema, objs: list[Any]) -> list[Any]:
    """``schema.dump(objs, many=True)``, checked equal (values, types, key order) to marshmallow's own."""
    assert isinstance(schema, FastDumpSchema)
    got = schema.dump(objs, many=True)
    with marshmallow_only():
        expected = schema.dump(objs, many=True)
    assert got == expected
    assert repr(got) == repr(expected)
    assert len(got) == len(objs)
    return got
