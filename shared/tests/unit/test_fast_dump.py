"""FastDumpSchema dumps exactly what marshmallow dumps: each case is dumped by a FastDumpSchema and by a plain
marshmallow Schema with the same fields (or, for the services' response schemas, by marshmallow's own
``Schema._serialize``), and the outputs must be equal, keys, values and their types."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from marshmallow import Schema, fields, post_dump, pre_dump

from clinic_shared.testing.dumps import fast_keys
from clinic_shared.web.fast_dump import FastDumpSchema, value_converter

UTC = dt.UTC
VANCOUVER = dt.timezone(dt.timedelta(hours=-8))
AWARE = dt.datetime(2025, 3, 3, 9, 30, 15, 250, tzinfo=VANCOUVER)
NAIVE = dt.datetime(2025, 3, 3, 9, 30)
ID = uuid.UUID("6f1c2a9e-8a47-4f43-9a3e-0d2b1f8f9a10")


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


class Legacy(str, enum.Enum):  # noqa: UP042 - str() of a member is "Legacy.OLD", not its value
    OLD = "old"


class Maybe(enum.Enum):
    UNKNOWN = None
    YES = "yes"


class Moment(enum.Enum):
    EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class ShoutedString(fields.String):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value).upper()


class LaterDateTime(dt.datetime):  # datetime's own isoformat, not this one, is what marshmallow calls
    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "not what marshmallow writes"


def both(body: dict[str, Any], **options: Any) -> tuple[Schema, Schema]:
    """A FastDumpSchema and a plain Schema with the same fields (and hooks, Meta, methods)."""
    fast = type("FastCase", (FastDumpSchema,), dict(body))
    plain = type("PlainCase", (Schema,), dict(body))
    return fast(**options), plain(**options)


def assert_same_dump(body: dict[str, Any], obj: Any, **options: Any) -> Any:
    fast, plain = both(body, **options)
    expected = plain.dump(obj)
    got = fast.dump(obj)
    assert got == expected
    assert repr(got) == repr(expected)  # the same key order and value types (1 is not True, "a" is not b"a")
    return got


SUPPORTED: dict[str, tuple[fields.Field, list[Any]]] = {
    "string": (fields.String(), ["Ana", "", 42, b"caf\xc3\xa9", Colour.RED, Legacy.OLD, ID]),
    "uuid": (fields.UUID(), [ID, "not-a-uuid-but-dumped-as-str"]),
    "integer": (fields.Integer(), [7, 0, -3, True, 2.9, "12", decimal.Decimal("3.7"), Size.LARGE]),
    "strict_integer": (fields.Integer(strict=True), [5, False]),
    "boolean": (fields.Boolean(), [True, False, 0, 1, "yes", "off", 2]),
    "boolean_own_sets": (fields.Boolean(truthy={"si"}, falsy={"no"}), ["si", True, "whatever"]),
    "datetime": (fields.DateTime(), [AWARE, NAIVE, AWARE.astimezone(UTC), LaterDateTime(2025, 1, 2, 3, 4)]),
    "datetime_iso": (fields.DateTime(format="iso"), [AWARE, NAIVE]),
    "aware": (fields.AwareDateTime(format="iso"), [AWARE, dt.datetime(2025, 6, 1, tzinfo=UTC)]),
    "naive": (fields.NaiveDateTime(), [NAIVE, dt.datetime(1999, 12, 31, 23, 59, 59, 999999)]),
    "enum_by_value": (fields.Enum(Colour, by_value=True), [Colour.RED, Colour.BLUE]),
    "enum_by_name": (fields.Enum(Colour), [Colour.RED, Size.SMALL]),
    "enum_by_integer": (fields.Enum(Size, by_value=fields.Integer), [Size.SMALL, Size.LARGE]),
    "enum_by_string": (fields.Enum(Size, by_value=fields.String()), [Size.SMALL]),
    "enum_none_value": (fields.Enum(Maybe, by_value=True), [Maybe.UNKNOWN, Maybe.YES]),
    "enum_none_value_as_string": (fields.Enum(Maybe, by_value=fields.String), [Maybe.UNKNOWN, Maybe.YES]),
    "enum_by_datetime": (fields.Enum(Moment, by_value=fields.DateTime), [Moment.EPOCH]),
    "raw": (fields.Raw(), [{"a": [1, 2]}, [ID], 3.5, "x", AWARE]),
}


@pytest.mark.parametrize("name", SUPPORTED)
def test_each_supported_field_dumps_as_marshmallow_does_values_and_none(name: str) -> None:
    the_field, values = SUPPORTED[name]
    fast, _ = both({"value": the_field})
    assert fast_keys(fast) == {"value"}, "the case must take the fast path to test it"
    for value in [*values, None]:
        assert_same_dump({"value": the_field}, SimpleNamespace(value=value))
        assert_same_dump({"value": the_field}, {"value": value})


def test_a_value_marshmallow_cannot_dump_fails_the_same_way() -> None:
    for the_field, value in [(fields.Integer(), "twelve"), (fields.DateTime(), dt.date(2025, 3, 3))]:
        fast, plain = both({"value": the_field})
        obj = SimpleNamespace(value=value)
        with pytest.raises((ValueError, TypeError)) as expected:
            plain.dump(obj)
        with pytest.raises(expected.type):
            fast.dump(obj)


OTHERS: dict[str, tuple[fields.Field, Any]] = {
    "integer_as_string": (fields.Integer(as_string=True), 12),
    "datetime_rfc": (fields.DateTime(format="rfc"), AWARE),
    "datetime_timestamp": (fields.DateTime(format="timestamp"), AWARE),
    "datetime_iso8601": (fields.DateTime(format="iso8601"), AWARE),
    "aware_strftime": (fields.AwareDateTime(format="%Y-%m-%d %H:%M"), AWARE),
    "enum_by_float": (fields.Enum(Size, by_value=fields.Float), Size.LARGE),
    "decimal": (fields.Decimal(), decimal.Decimal("9.50")),
    "float": (fields.Float(), 2),
    "date": (fields.Date(), dt.date(2025, 3, 3)),
    "email": (fields.Email(), "ana@example.org"),  # a String subclass: it could have its own _serialize
    "shouted": (ShoutedString(), "quiet words"),
    "dump_default": (fields.String(dump_default="none given"), "given"),
    "dotted": (fields.String(attribute="inner.name"), None),
}


@pytest.mark.parametrize("name", OTHERS)
def test_other_fields_are_serialized_by_marshmallow(name: str) -> None:
    the_field, value = OTHERS[name]
    fast, _ = both({"value": the_field})
    assert fast_keys(fast) == set()
    for obj in (SimpleNamespace(value=value, inner=SimpleNamespace(name="ana")), SimpleNamespace(value=None)):
        assert_same_dump({"value": the_field}, obj)


def test_a_string_subclass_with_its_own_serialize_is_honoured() -> None:
    got = assert_same_dump(
        {"name": ShoutedString(), "plain": fields.String()}, {"name": "ana", "plain": "ana"}
    )
    assert got == {"name": "ANA", "plain": "ana"}


def test_the_schema_datetimeformat_option_is_honoured() -> None:
    meta = type("Meta", (), {"datetimeformat": "rfc"})
    body = {"Meta": meta, "at": fields.DateTime(), "at_iso": fields.DateTime(format="iso")}
    fast, _ = both(body)
    assert fast_keys(fast) == {"at_iso"}
    got = assert_same_dump(body, SimpleNamespace(at=AWARE, at_iso=AWARE))
    assert got["at"] == "Mon, 03 Mar 2025 09:30:15 -0800"


def test_missing_attributes_and_keys_are_left_out() -> None:
    body = {
        "id": fields.UUID(),
        "name": fields.String(),
        "count": fields.Integer(),
        "when": fields.DateTime(),
    }
    assert assert_same_dump(body, SimpleNamespace(name="only this")) == {"name": "only this"}
    assert assert_same_dump(body, {"count": 3}) == {"count": 3}
    assert assert_same_dump(body, object()) == {}


def test_an_object_with_getitem_is_read_as_marshmallow_reads_it() -> None:
    class Record:
        """obj[key] first; on a KeyError marshmallow falls back to the attribute."""

        name = "from the attribute"

        def __getitem__(self, key: str) -> Any:
            if key == "id":
                return ID
            raise KeyError(key)

    body = {"id": fields.UUID(), "name": fields.String(), "absent": fields.String()}
    got = assert_same_dump(body, Record())
    assert got == {"id": str(ID), "name": "from the attribute"}


def test_data_key_and_attribute_name_the_output_and_the_source() -> None:
    body = {
        "first_name": fields.String(data_key="firstName"),
        "surname": fields.String(attribute="last_name"),
        "id": fields.UUID(data_key="ID", attribute="key"),
    }
    got = assert_same_dump(body, SimpleNamespace(first_name="Ana", last_name="Li", key=ID))
    assert got == {"firstName": "Ana", "surname": "Li", "ID": str(ID)}


def test_dump_default_is_applied_when_the_value_is_missing() -> None:
    body = {
        "status": fields.String(dump_default="booked"),
        "count": fields.Integer(dump_default=lambda: 0),
        "when": fields.DateTime(dump_default=AWARE),
    }
    assert assert_same_dump(body, SimpleNamespace()) == {
        "status": "booked",
        "count": 0,
        "when": AWARE.isoformat(),
    }
    assert assert_same_dump(body, SimpleNamespace(status=None, count=4, when=None)) == {
        "status": None,
        "count": 4,
        "when": None,
    }


def test_a_dotted_attribute_is_followed() -> None:
    body = {"plan_id": fields.UUID(attribute="plan.id"), "name": fields.String(attribute="plan.name")}
    assert assert_same_dump(body, SimpleNamespace(plan=SimpleNamespace(id=ID, name="knee"))) == {
        "plan_id": str(ID),
        "name": "knee",
    }
    assert assert_same_dump(body, {"plan": {"id": ID}}) == {"plan_id": str(ID)}
    assert assert_same_dump(body, SimpleNamespace(plan=None)) == {}


def test_nested_method_function_and_list_fields_go_through_marshmallow() -> None:
    inner = {"id": fields.UUID(), "at": fields.AwareDateTime(format="iso")}
    inner_fast = type("InnerFast", (FastDumpSchema,), dict(inner))
    body = {
        "name": fields.String(),
        "child": fields.Nested(inner_fast),
        "children": fields.List(fields.Nested(inner_fast(only=("id",)))),
        "ids": fields.List(fields.UUID()),
        "eldest_id": fields.Pluck(inner_fast, "id", attribute="eldest"),
        "shout": fields.Method("shouted"),
        "size": fields.Function(lambda obj: len(obj.name)),
        "shouted": lambda self, obj: obj.name.upper(),
    }
    child = SimpleNamespace(id=ID, at=AWARE)
    obj = SimpleNamespace(name="ana", child=child, children=[child, child], ids=[ID, ID], eldest=child)
    got = assert_same_dump(body, obj)
    assert got["shout"] == "ANA"
    assert got["children"] == [{"id": str(ID)}, {"id": str(ID)}]
    fast, _ = both(body)
    assert fast_keys(fast) == {"name"}


@pytest.mark.parametrize("many", [True, False])
def test_many_and_one(many: bool) -> None:
    body = {"id": fields.UUID(), "name": fields.String(), "late": fields.Boolean()}
    objs = [SimpleNamespace(id=uuid.uuid4(), name=f"p{n}", late=n % 2 == 0) for n in range(5)]
    assert_same_dump(body, objs if many else objs[0], many=many)
    if many:
        assert assert_same_dump(body, [], many=True) == []
        fast, plain = both(body, many=True)
        assert fast.dump(iter(objs)) == plain.dump(iter(objs)) == plain.dump(objs)
        assert assert_same_dump(body, None, many=True) == {}  # as marshmallow: None is dumped as one object
    fast, plain = both(body)
    assert fast.dump(objs, many=True) == plain.dump(objs, many=True)


def test_only_and_exclude() -> None:
    body = {"id": fields.UUID(), "name": fields.String(data_key="n"), "late": fields.Boolean()}
    obj = SimpleNamespace(id=ID, name="ana", late=True)
    assert assert_same_dump(body, obj, only=("id", "name")) == {"id": str(ID), "n": "ana"}
    assert assert_same_dump(body, obj, exclude=("id",)) == {"n": "ana", "late": True}
    assert assert_same_dump(body, [obj], many=True, only=("late",)) == [{"late": True}]


def test_load_only_fields_are_not_dumped() -> None:
    body = {"id": fields.UUID(), "password": fields.String(load_only=True)}
    assert assert_same_dump(body, SimpleNamespace(id=ID, password="secret")) == {"id": str(ID)}


def test_dump_hooks_still_run() -> None:
    def add_label(self: Schema, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data | {"label": data["name"].title()}

    def unwrap(self: Schema, obj: Any, **_: Any) -> Any:
        return obj.inner

    body = {"name": fields.String(), "add_label": post_dump(add_label), "unwrap": pre_dump(unwrap)}
    obj = SimpleNamespace(inner=SimpleNamespace(name="ana li"))
    assert assert_same_dump(body, obj) == {"name": "ana li", "label": "Ana Li"}
    assert assert_same_dump(body, [obj, obj], many=True) == [{"name": "ana li", "label": "Ana Li"}] * 2


def test_a_schema_with_its_own_get_attribute_is_dumped_by_marshmallow() -> None:
    def get_attribute(self: Schema, obj: Any, attr: str, default: Any) -> Any:
        return f"{attr} of {obj}"

    body = {"name": fields.String(), "id": fields.String(), "get_attribute": get_attribute}
    fast, _ = both(body)
    assert fast_keys(fast) == set()
    assert assert_same_dump(body, "it") == {"name": "name of it", "id": "id of it"}


def test_the_compiled_steps_follow_a_schema_whose_fields_change() -> None:
    fast, _ = both({"id": fields.UUID(), "name": fields.String()})
    obj = SimpleNamespace(id=ID, name="ana")
    assert fast.dump(obj) == {"id": str(ID), "name": "ana"}
    fast.only = {"name"}
    fast._init_fields()
    assert fast.dump(obj) == {"name": "ana"}


def test_value_converter_names_only_the_exact_field_types() -> None:
    assert value_converter(fields.UUID()) is str
    assert value_converter(fields.Integer()) is int
    assert value_converter(fields.Integer(as_string=True)) is None
    assert value_converter(fields.Url()) is None  # a String subclass
    assert value_converter(fields.Nested(Schema)) is None
