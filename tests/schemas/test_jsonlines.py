"""The one JSON-lines reader: split on ``\\n`` only, a byte-order mark accepted, strict JSON written."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.jsonlines import BadLine, dumps_line, parse_lines, read_text, split_lines, write_lines

#: Characters that str.splitlines() breaks on but that are valid, unescaped, inside a JSON string.
BREAKERS = "\u2028\u2029\u0085\x1c\x1d\x1e\x0b\x0c"


def test_line_separators_inside_strings_keep_a_record_whole(tmp_path):
    answers = [f"anger{c}fear" for c in BREAKERS]
    path = tmp_path / "p.jsonl"
    assert write_lines(path, ({"id": str(n), "raw": a} for n, a in enumerate(answers))) == len(answers)
    assert [value["raw"] for _, value in parse_lines(read_text(path))] == answers
    assert len(read_text(path).splitlines()) > len(answers)  # what the old reader split on


def test_a_byte_order_mark_and_windows_line_ends_are_accepted(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1"}\r\n\r\n{"id": "2"}\r\n')
    assert list(parse_lines(read_text(path))) == [(1, {"id": "1"}), (3, {"id": "2"})]


def test_a_bad_line_is_reported_with_its_number():
    values = list(parse_lines('{"id": 1}\n{"id": \n' + "[" * 100_000 + "\n"))
    assert values[0] == (1, {"id": 1})
    assert isinstance(values[1][1], BadLine) and values[1][0] == 2 and values[1][1].message == "Expecting value"
    assert isinstance(values[2][1], BadLine) and values[2][0] == 3


def test_writers_refuse_nan_and_infinity():
    with pytest.raises(ValueError):
        dumps_line({"accuracy": float("nan")})
    with pytest.raises(ValueError):
        dumps_line({"loss": float("inf")})


@given(st.lists(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                             max_leaves=8), max_size=5))
def test_any_json_values_round_trip(values):
    text = "".join(dumps_line(value) for value in values)
    assert [value for _, value in parse_lines(text)] == values
    assert [number for number, _ in split_lines(text)] == list(range(1, len(values) + 1))
    assert [json.loads(line) for line in text.split("\n")[:-1]] == values
