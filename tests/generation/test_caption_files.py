"""Caption files (``file:<path>``) read as written: the one JSON-lines reader, CSV captions spanning lines, ids
trimmed in both formats; a file that is not UTF-8 or not a regular file is one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from builder.captions.file import CaptionFileError, FileCaptioner, read_caption_file


def test_a_u2028_inside_a_jsonl_caption_is_just_a_character(tmp_path):
    path = tmp_path / "captions.jsonl"
    path.write_text("".join(json.dumps({"id": f" a_{n} ", "caption": f"line one{c}line two"}, ensure_ascii=False) + "\n"
                            for n, c in enumerate("\u2028\u2029\x85")), encoding="utf-8")
    assert len(path.read_text(encoding="utf-8").splitlines()) > 3  # what the old reader split on
    assert read_caption_file(path) == {f"a_{n}": "line one line two" for n in range(3)}


def test_a_quoted_newline_in_a_csv_caption_is_kept_as_a_space_and_ids_are_trimmed(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text('id,caption\n a_1 ,"line one\nline two"\na_2,plain\n', encoding="utf-8")
    assert read_caption_file(path) == {"a_1": "line one line two", "a_2": "plain"}


def test_jsonl_and_csv_agree_on_ids_with_spaces(tmp_path):
    jsonl, csv_file = tmp_path / "c.jsonl", tmp_path / "c.csv"
    jsonl.write_text(json.dumps({"id": "  awe_1\t", "caption": "a dog"}) + "\n", encoding="utf-8")
    csv_file.write_text("id,caption\n  awe_1\t,a dog\n", encoding="utf-8")
    assert read_caption_file(jsonl) == read_caption_file(csv_file) == {"awe_1": "a dog"}


def test_a_caption_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "captions.jsonl"
    path.write_bytes(b'{"id": "a_1", "caption": "caf\xe9"}\n')
    with pytest.raises(CaptionFileError, match=r"captions\.jsonl: caption file is not UTF-8 \(at byte offset 29: invalid continuation byte\)"):
        read_caption_file(path)


def test_a_fifo_caption_file_is_refused_without_opening_it(tmp_path, small_tree_template):
    fifo = tmp_path / "captions.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(CaptionFileError, match="is not a regular file; not opened"):
        FileCaptioner(fifo)
    result = subprocess.run([sys.executable, "-m", "builder.cli", "build", "--emoset-root", str(small_tree_template),
                             "--out", str(tmp_path / "b"), "--captioner", f"file:{fifo}", "--cache-dir",
                             str(tmp_path / "cache"), "--quiet"], check=False, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"emovit build: error: {fifo}: caption file is not a regular file; not opened"])
