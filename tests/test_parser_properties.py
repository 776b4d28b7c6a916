"""Properties of the parsers that read hostile input (issue 14, item 3): whatever the text, a
cursor, a date or a JSON body is read or refused with a 400/422 problem, never an exception
that would be a 500; and what we issue reads back exactly."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import cursors, strict_json
from app.instants import NotAnInstant, parse_instant
from app.secret_strength import alphabet_bits, pattern_bits
from policies.problems import BadRequest

# Fixed budgets and no deadline: the same run in CI as here, whatever the machine's load.
PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LIST_PATH = "/tenants/00000000-0000-0000-0000-000000000000/users"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(timezones=offsets)


@pytest.fixture
def in_request(app):
    """A request to one list: cursors are signed with the app's key, for that path."""
    with app.test_request_context(LIST_PATH):
        yield


# --- cursors ----------------------------------------------------------------------------------


@PROPERTY
@given(text=st.text(max_size=600))
def test_any_text_as_a_cursor_is_read_or_refused_as_a_400(in_request, text):
    try:
        created_at, object_id = cursors.decode_cursor(text)
    except cursors.InvalidCursor:
        return  # rendered as a 400 problem (tests/security/test_input_conventions.py)
    assert created_at.tzinfo is not None  # only a signed cursor of ours gets here
    assert isinstance(object_id, uuid.UUID)


@PROPERTY
@given(value=json_values)
def test_any_signed_payload_is_read_or_refused_as_a_400(in_request, value):
    """Even a cursor bearing our MAC is parsed as hostile: a bug that signed junk is no 500."""
    forged = cursors.sign(value)
    for decode in (cursors.decode_cursor, cursors.decode_key_cursor):
        with contextlib.suppress(cursors.InvalidCursor):
            decode(forged)


@PROPERTY
@given(created_at=aware_datetimes, object_id=st.uuids())
def test_a_keyset_cursor_reads_back_the_same_position(in_request, created_at, object_id):
    try:
        expected = created_at.astimezone(UTC)
    except OverflowError:
        return  # no such instant: nothing of ours is ever stored there
    assert cursors.decode_cursor(cursors.encode_cursor(created_at, object_id)) == (expected, object_id)


@PROPERTY
@given(key=st.text(max_size=80), tail=st.text(min_size=1, max_size=4))
def test_a_name_cursor_reads_back_and_any_change_is_refused(in_request, key, tail):
    cursor = cursors.encode_key_cursor(key)

    assert cursors.decode_key_cursor(cursor) == key
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode_key_cursor(cursor + tail)


@PROPERTY
@given(key=st.text(max_size=40))
def test_a_cursor_is_refused_on_another_list(app, key):
    with app.test_request_context(LIST_PATH):
        cursor = cursors.encode_key_cursor(key)
    with app.test_request_context(LIST_PATH.replace("users", "roles")), pytest.raises(cursors.InvalidCursor):
        cursors.decode_key_cursor(cursor)


# --- dates ------------------------------------------------------------------------------------


@PROPERTY
@given(text=st.text(max_size=60))
def test_any_text_is_an_instant_in_utc_or_not_an_instant(text):
    try:
        instant = parse_instant(text)
    except NotAnInstant:
        return
    assert instant.utcoffset() == timedelta(0)


@PROPERTY
@given(moment=aware_datetimes)
def test_every_iso_date_time_with_an_offset_is_its_instant_or_refused(moment):
    try:
        expected = moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 (a 500 before issue 14)
        with pytest.raises(NotAnInstant):
            parse_instant(moment.isoformat())
        return
    assert parse_instant(moment.isoformat()) == expected


@PROPERTY
@given(moment=st.datetimes())
def test_a_naive_date_time_is_refused(moment):
    with pytest.raises(NotAnInstant):
        parse_instant(moment.isoformat())


# --- JSON bodies -------------------------------------------------------------------------------


@PROPERTY
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_json_or_a_400(raw):
    with contextlib.suppress(BadRequest):  # a 400 problem; anything else fails the test
        strict_json.parse(raw)


@PROPERTY
@given(value=json_values)
def test_json_we_would_send_reads_back_unchanged(value):
    assert strict_json.parse(json.dumps(value).encode()) == value


@PROPERTY
@given(value=st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=4), data=st.data())
def test_a_repeated_key_is_refused_at_any_depth_unless_the_route_allows_it(value, data):
    key = data.draw(st.sampled_from(sorted(value)))
    raw = json.dumps(value)[:-1] + ", " + json.dumps(key) + ": 0}"
    depth = data.draw(st.integers(min_value=0, max_value=5))
    raw = '{"a": [' * depth + raw + "]}" * depth

    with pytest.raises(BadRequest):
        strict_json.parse(raw.encode())
    assert strict_json.parse(raw.encode(), refuse_duplicate_keys=False) is not None


@PROPERTY
@given(depth=st.integers(min_value=1, max_value=20_000), bracket=st.sampled_from(["[", '{"a":']))
def test_nesting_of_any_depth_is_read_or_a_400(depth, bracket):
    closing = "]" if bracket == "[" else "}"
    raw = (bracket * depth + ("0" if bracket != "[" else "") + closing * depth).encode()
    with contextlib.suppress(BadRequest):
        strict_json.parse(raw)


# --- secret estimates --------------------------------------------------------------------------


@PROPERTY
@given(secret=st.text(max_size=120))
def test_the_pattern_estimate_never_exceeds_the_alphabet_bound(secret):
    assert pattern_bits(secret) <= alphabet_bits(secret) + 1e-9


def test_a_datetime_at_the_edge_of_the_range_is_handled():
    assert parse_instant("9999-12-31T23:59:59+00:00") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    with pytest.raises(NotAnInstant):
        parse_instant("9999-12-31T23:59:59-23:59")
