"""Documentation JSON v1: accepted as specified, every error names its JSON path."""
import json

import pytest

from scrubber.docjson import DocumentationError, load_documentation

EXAMPLE = {"patients": [{
    "patient": {"id": "MRN-1001", "member_id": "1EG4TE5MK73", "last_name": "DOE", "first_name": "JANE",
                "birth_date": "1950-02-01"},
    "consent": {"date": "2026-01-03", "method": "verbal"},
    "episodes": [{"start": "2026-01-05", "end": None, "program": "RPM"}],
    "readings": [{"date": "2026-03-01", "transmission": "automatic", "kind": "blood_pressure",
                  "device_id": "BP-1"}],
    "time_entries": [{"id": "t-17", "date": "2026-03-04", "start": "10:05", "minutes": 12, "program": "RPM",
                      "performer": {"id": "rn-7", "role": "clinical_staff"},
                      "activity": "Reviewed 14 days of BP; called patient about evening dose",
                      "interaction": {"mode": "phone", "with": "patient"}}],
}]}


def _with(path, value):
    document = json.loads(json.dumps(EXAMPLE))
    target = document["patients"][0]
    *parents, last = path
    for key in parents:
        target = target[key]
    target[last] = value
    return json.dumps(document)


def test_design_example_is_accepted():
    documentation = load_documentation(json.dumps(EXAMPLE))
    (record,) = documentation.patients
    assert record.id == "MRN-1001" and record.consents[0].method == "verbal"
    assert record.time_entries[0].interaction.with_ == "patient"
    assert record.episodes[0].end is None


@pytest.mark.parametrize("path,value,where", [
    (("time_entries", 0, "minutes"), -5, "$.patients[0].time_entries[0].minutes"),
    (("time_entries", 0, "date"), "2026-02-30", "$.patients[0].time_entries[0].date"),
    (("time_entries", 0, "interaction", "mode"), "fax", "$.patients[0].time_entries[0].interaction.mode"),
    (("time_entries", 0, "program"), "XYZ", "$.patients[0].time_entries[0].program"),
    (("time_entries", 0, "performer", "role"), "intern", "$.patients[0].time_entries[0].performer.role"),
    (("readings", 0, "transmission"), "pigeon", "$.patients[0].readings[0].transmission"),
    (("readings", 0, "colour"), "blue", "$.patients[0].readings[0].colour"),
    (("surprise",), 1, "$.patients[0].surprise"),
    (("patient",), {"last_name": "DOE"}, "$.patients[0].patient.id"),
])
def test_errors_name_the_json_path(path, value, where):
    with pytest.raises(DocumentationError) as caught:
        load_documentation(_with(path, value))
    assert where in [p for p, _ in caught.value.errors]


def test_not_json_names_the_line():
    with pytest.raises(DocumentationError) as caught:
        load_documentation('{"patients": [\n  {oops}]}')
    assert caught.value.errors[0][0].startswith("line 2")


def test_optional_parts_may_be_left_out():
    minimal = {"patients": [{"patient": {"member_id": "M"},
                             "time_entries": [{"id": "t", "date": "2026-03-01", "minutes": 5,
                                               "program": "CCM"}]}]}
    (record,) = load_documentation(json.dumps(minimal)).patients
    assert record.time_entries[0].performer is None and record.time_entries[0].activity is None
