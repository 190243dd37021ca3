"""The one function that turns a foreign string into a file name: plain, bounded, inside the folder, the same
for the same string, different for different strings (also without case), plain names kept readable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import UsageError
from schemas.names import MAX_LENGTH, hashed_name, org_name_text, safe_name, unique_names

PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")
HOSTILE = st.one_of(st.text(max_size=300), st.sampled_from(
    ["..", ".", "", "/", "../../x", "/etc/passwd", "C:\\x", "CON", "nul.txt", "a--b", "a..b", ".hidden", "-rf",
     "x" * 65, "x_0123456789ab", "model A", "model:A", "model/A", "\x00", "\u2028", "é"]))


def _plain(name: str) -> bool:
    return (PLAIN.fullmatch(name) is not None and len(name) <= MAX_LENGTH and ".." not in name and "--" not in name
            and re.fullmatch(r"con|prn|aux|nul|com\d|lpt\d", name.split(".")[0].lower()) is None)


@given(HOSTILE)
def test_every_string_becomes_one_plain_bounded_name(text):
    from huggingface_hub.utils import validate_repo_id

    name = safe_name(text)
    assert _plain(name) and name == safe_name(text)
    validate_repo_id(f"org/{name}")                                   # a name the Hub accepts, too
    if _plain(text) and not re.search(r"_[0-9a-f]{12}$", text):
        assert name == text                                          # plain names stay readable


@given(st.lists(HOSTILE, unique=True, max_size=8))
def test_different_strings_never_share_a_name_even_without_case(texts):
    names = unique_names({text: text for text in texts})
    assert len({name.casefold() for name in names.values()}) == len(texts)
    assert all(_plain(name) for name in names.values())


def test_the_issue_examples():
    assert [safe_name(t) for t in ("emovit", "llava-ft", "emovit-0.25", "Qwen2-VL-7B_Instruct")] == \
        ["emovit", "llava-ft", "emovit-0.25", "Qwen2-VL-7B_Instruct"]
    names = [safe_name(t) for t in ("model A", "model:A", "model/A")]
    assert len(set(names)) == 3 and all(n.startswith("model_A_") for n in names)
    assert safe_name("org/../../../x").startswith("org_x_") and safe_name("..").startswith("x_")
    assert safe_name("x_0123456789ab") != "x_0123456789ab"            # a kept name never looks hashed
    assert unique_names({"a": "Model", "b": "model"}) == {"a": hashed_name("Model", salt="'a'"),
                                                           "b": hashed_name("model", salt="'b'")}
    assert org_name_text("lmms-lab/llava") == "lmms-lab__llava" and org_name_text("a/../b") == "a/../b"


def test_a_digest_collision_is_refused_not_overwritten(monkeypatch):
    from schemas import names

    monkeypatch.setattr(names, "hashed_name", lambda text, salt="", max_length=64: "same_000000000000")
    with pytest.raises(UsageError, match="would be written to the same file name"):
        names.unique_names({"a": "x y", "b": "x:y"})
