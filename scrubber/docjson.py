"""Documentation JSON, version 1 (DESIGN.md), validated with marshmallow.

Unknown fields, bad dates, negative minutes and unknown values are errors naming the JSON path;
nothing is silently dropped.
"""
from __future__ import annotations

import json

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from scrubber.documentation import (
    MODES,
    PARTIES,
    PROGRAMS,
    ROLES,
    TRANSMISSIONS,
    Consent,
    Documentation,
    Episode,
    Interaction,
    PatientRecord,
    Performer,
    Reading,
    TimeEntry,
)

__all__ = ["DocumentationError", "load_documentation", "parse_documentation"]


class DocumentationError(Exception):
    """Documentation JSON that cannot be accepted; `errors` lists (JSON path, message)."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _PatientSchema(_Strict):
    id = fields.String(load_default=None, validate=validate.Length(min=1))
    member_id = fields.String(load_default=None, validate=validate.Length(min=1))
    last_name = fields.String(load_default=None)
    first_name = fields.String(load_default=None)
    birth_date = fields.Date(load_default=None)

    @validates_schema
    def _identified(self, data, **kwargs):
        if not data.get("id") and not data.get("member_id"):
            raise ValidationError("needs an id (MRN) or a member_id to match claims", "id")


class _ConsentSchema(_Strict):
    date = fields.Date(required=True)
    method = fields.String(load_default=None)

    @post_load
    def _make(self, data, **kwargs):
        return Consent(**data)


class _EpisodeSchema(_Strict):
    start = fields.Date(required=True)
    end = fields.Date(load_default=None, allow_none=True)
    program = fields.String(load_default="RPM", validate=validate.OneOf(PROGRAMS))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("end") and data["end"] < data["start"]:
            raise ValidationError("episode ends before it starts", "end")

    @post_load
    def _make(self, data, **kwargs):
        return Episode(**data)


class _ReadingSchema(_Strict):
    date = fields.Date(required=True)
    transmission = fields.String(required=True, validate=validate.OneOf(TRANSMISSIONS))
    kind = fields.String(load_default=None)
    device_id = fields.String(load_default=None)

    @post_load
    def _make(self, data, **kwargs):
        return Reading(**data)


class _PerformerSchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1))
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))

    @post_load
    def _make(self, data, **kwargs):
        return Performer(**data)


class _InteractionSchema(_Strict):
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    with_ = fields.String(data_key="with", load_default="patient", validate=validate.OneOf(PARTIES))

    @post_load
    def _make(self, data, **kwargs):
        return Interaction(**data)


class _TimeEntrySchema(_Strict):
    id = fields.String(required=True, validate=validate.Length(min=1))
    date = fields.Date(required=True)
    start = fields.Time(load_default=None, allow_none=True)
    minutes = fields.Float(required=True, validate=validate.Range(min=0))
    program = fields.String(required=True, validate=validate.OneOf(PROGRAMS))
    performer = fields.Nested(_PerformerSchema, load_default=None, allow_none=True)
    activity = fields.String(load_default=None, allow_none=True)
    interaction = fields.Nested(_InteractionSchema, load_default=None, allow_none=True)

    @post_load
    def _make(self, data, **kwargs):
        return TimeEntry(**data)


class _PatientDocumentationSchema(_Strict):
    patient = fields.Nested(_PatientSchema, required=True)
    consent = fields.Nested(_ConsentSchema, load_default=None, allow_none=True)
    episodes = fields.List(fields.Nested(_EpisodeSchema), load_default=list)
    readings = fields.List(fields.Nested(_ReadingSchema), load_default=list)
    time_entries = fields.List(fields.Nested(_TimeEntrySchema), load_default=list)

    @post_load
    def _make(self, data, **kwargs):
        consent = data["consent"]
        return PatientRecord(
            **data["patient"],
            consents=(consent,) if consent else (),
            episodes=tuple(data["episodes"]),
            readings=tuple(data["readings"]),
            time_entries=tuple(data["time_entries"]),
        )


class _DocumentationSchema(_Strict):
    version = fields.Integer(load_default=1, validate=validate.Equal(1))
    patients = fields.List(fields.Nested(_PatientDocumentationSchema), required=True)

    @post_load
    def _make(self, data, **kwargs):
        documentation = Documentation()
        for record in data["patients"]:
            documentation = documentation.with_record(record)
        return documentation


def parse_documentation(data: object) -> Documentation:
    """Validate decoded JSON and build the documentation model."""
    if not isinstance(data, dict):
        raise DocumentationError([("$", "documentation must be a JSON object with 'patients'")])
    nul = _nul_path(data, "$")
    if nul is not None:
        raise DocumentationError([(nul, "contains a NUL character")])
    try:
        return _DocumentationSchema().load(data)
    except ValidationError as error:
        raise DocumentationError(sorted(_flatten(error.messages, "$"))) from None


def _nul_path(value: object, path: str) -> str | None:
    """The JSON path of the first string (key or value) holding U+0000, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = path if "\x00" in key else _nul_path(item, f"{path}.{key}")
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def load_documentation(text: str) -> Documentation:
    """Decode and validate documentation JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentationError([(f"line {error.lineno} column {error.colno}",
                                   f"not valid JSON: {error.msg}")]) from None
    except RecursionError as error:
        raise DocumentationError([("$", f"not valid JSON: {error}")]) from None
    return parse_documentation(data)


def _flatten(messages, path: str):
    if isinstance(messages, dict):
        for key, value in messages.items():
            step = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
            if key == "_schema":
                step = path
            yield from _flatten(value, step)
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                yield from _flatten(message, path)
            else:
                yield (path, str(message))
    else:
        yield (path, str(messages))
