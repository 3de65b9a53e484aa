"""Member formats as /meta reports them, and the d3 specifiers front ends get."""

import pytest

from engine.respond.formats import format_description, reported_format


@pytest.mark.parametrize("kind, member_type, given, reported", [
    ("measure", "number", "percent", "percent"),
    ("measure", "number", "percent_1", {"type": "custom-numeric", "value": ".1~%",
                                        "alias": "percent_1"}),
    ("measure", "number", ",.3f", {"type": "custom-numeric", "value": ",.3f"}),
    ("dimension", "string", "imageUrl", "imageUrl"),
    ("dimension", "time", "%Y-%m", {"type": "custom-time", "value": "%Y-%m"}),
    ("dimension", "number", "id", {"type": "custom-numeric", "value": ".0f", "alias": "id"}),
    ("dimension", "string", {"type": "link", "label": "Open"}, {"type": "link", "label": "Open"}),
])
def test_reported_format(kind, member_type, given, reported):
    assert reported_format(kind, member_type, given) == reported


def test_number_members_get_the_default_description():
    assert format_description("dimension", "number", None) == {"name": "number",
                                                               "specifier": ",.2~f"}


def test_standard_formats_have_their_specifiers():
    assert format_description("measure", "number", "currency") == {"name": "currency",
                                                                   "specifier": "$,.2~f"}


def test_string_dimensions_and_time_measures_have_no_description():
    assert format_description("dimension", "string", None) is None
    assert format_description("measure", "time", None) is None
