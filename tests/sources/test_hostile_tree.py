"""The reader against hostile trees: images that do not decode, decompression bombs, one image file under two
entries, FIFOs, NUL characters, huge numbers, deep nesting and malformed ``info.json`` files. Every entry ends
as a record or a quarantine line with a code; what cannot be read at all is one line, never a hang or a
traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from builder.sources.emoset import EmoSetSource, SourceError
from tests.support.hostile import bomb_jpeg, garbage_jpeg, noisy_jpeg, truncated_jpeg


def read(root, **options):
    source = EmoSetSource(root, **options)
    records, quarantined = {}, {}
    for batch in source.read_all():
        records.setdefault(batch.split, []).extend(batch.records)
        quarantined.setdefault(batch.split, []).extend(batch.quarantined)
    return records, quarantined


def entries(root, split):
    return json.loads((root / f"{split}.json").read_text())


def write_split(root, split, rows):
    (root / f"{split}.json").write_text(json.dumps(rows))


def codes(quarantined, split="train"):
    return sorted((q.id, q.code, q.field) for q in quarantined.get(split, []))


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "builder.cli", *args], check=False, capture_output=True, text=True, timeout=timeout)


def test_jpegs_cut_short_or_spoiled_are_quarantined_as_undecodable(small_tree):
    """PIL's ``verify`` passes both files; decoding them does not."""
    from PIL import Image

    rows = entries(small_tree, "train")
    (small_tree / rows[0][1]).write_bytes(truncated_jpeg(0.6))
    (small_tree / rows[1][1]).write_bytes(garbage_jpeg())
    for path in (small_tree / rows[0][1], small_tree / rows[1][1]):
        with Image.open(path) as image:
            image.verify()  # what the reader used to rely on
    records, quarantined = read(small_tree)
    ids = [Path(row[2]).stem for row in rows[:2]]
    assert codes(quarantined) == sorted((i, "undecodable_image", "image_path") for i in ids)
    assert all("image cannot be decoded" in q.reason and q.source in q.reason for q in quarantined["train"])
    assert len(records["train"]) == 22


def test_verification_agrees_with_a_full_decode():
    """JPEGs are verified at 1/8 scale: the verdict is the full decode's, whatever the garbage."""
    import io

    from PIL import Image

    from builder.sources.imagefiles import ImageProblem, verify_image_bytes

    for data in [*(garbage_jpeg(seed) for seed in range(8)), truncated_jpeg(0.3), truncated_jpeg(0.9), noisy_jpeg()]:
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
            full = True
        except OSError:
            full = False
        try:
            verify_image_bytes(data)
            ours = True
        except ImageProblem:
            ours = False
        assert ours == full


def test_a_decompression_bomb_is_quarantined_from_its_header_without_a_warning(small_tree):
    rows = entries(small_tree, "train")
    bomb = bomb_jpeg(12000, 12000)
    assert len(bomb) < 1000
    (small_tree / rows[0][1]).write_bytes(bomb)
    big = bomb_jpeg(15000, 15000)  # 225 MP: above PIL's own error threshold too
    (small_tree / rows[1][1]).write_bytes(big)
    for verify in (True, False):  # the limit holds without decoding as well
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            records, quarantined = read(small_tree, verify_images=verify)
        assert [q.code for q in quarantined["train"]] == ["image_too_large", "image_too_large"]
        assert "12000x12000 = 144,000,000 pixels exceeds the pixel limit of 50,000,000" in quarantined["train"][0].reason
        assert len(records["train"]) == 22
    # a lower limit quarantines ordinary images too; a higher one lets the 144 MP header through to decoding
    # (which libjpeg completes, padding the missing data, as training would)
    _, quarantined = read(small_tree, max_pixels=16 * 16 - 1)
    assert len(quarantined["train"]) == 24
    _, quarantined = read(small_tree, max_pixels=150_000_000)
    assert [(q.id, q.code) for q in quarantined["train"]] == [(Path(rows[1][2]).stem, "image_too_large")]


def test_validate_and_its_pixel_limit_option_on_the_command_line(small_tree, tmp_path):
    rows = entries(small_tree, "train")
    (small_tree / rows[0][1]).write_bytes(bomb_jpeg())
    (small_tree / rows[1][1]).write_bytes(truncated_jpeg())
    result = cli("validate", "--emoset-root", str(small_tree), "--out", str(tmp_path / "v"), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "DecompressionBomb" not in result.stderr
    lines = [json.loads(line) for line in (tmp_path / "v" / "quarantine.jsonl").read_text().splitlines()]
    assert sorted(line["code"] for line in lines) == ["image_too_large", "undecodable_image"]
    result = cli("validate", "--emoset-root", str(small_tree), "--max-pixels", "0")
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, ["emovit validate: error: max_pixels must be a positive whole number of pixels, got 0"])


def test_one_image_file_under_two_entries_is_a_duplicate_image(small_tree):
    """Same file under another id, another spelling of its path, a link inside the tree, or a copied
    annotation under a new name: the first entry keeps it, the others are quarantined."""
    train, test = entries(small_tree, "train"), entries(small_tree, "test")
    emotion, image, annotation = train[0]
    # another id, same path (4-field entry)
    test.append([emotion, "stolen_1", image, annotation])
    # another spelling of the path
    test.append([emotion, "stolen_2", image.replace("/", "/./", 1), annotation])
    # a link inside the tree to the same file
    link = small_tree / "image" / "alias.jpg"
    os.symlink(small_tree / train[1][1], link)
    test.append([train[1][0], "stolen_3", "image/alias.jpg", train[1][2]])
    # a copied annotation under a new name, pointing at the same image
    copied = small_tree / "annotation" / train[2][0] / "copy_of_it.json"
    copied.write_bytes((small_tree / train[2][2]).read_bytes())
    test.append([train[2][0], train[2][1], f"annotation/{train[2][0]}/copy_of_it.json"])
    write_split(small_tree, "test", test)
    records, quarantined = read(small_tree)
    assert codes(quarantined, "test") == sorted([
        ("stolen_1", "duplicate_image", "image_path"), ("stolen_2", "duplicate_image", "image_path"),
        ("stolen_3", "duplicate_image", "image_path"), ("copy_of_it", "duplicate_image", "image_path")])
    assert all("is the image file of an earlier entry (split train)" in q.reason for q in quarantined["test"])
    assert len(records["train"]) == 24 and len(records["test"]) == 24
    assert not quarantined["train"]


def read_elsewhere(root, timeout=60):
    """``(quarantine codes per split, error line)`` of reading ``root`` in a child process: a reader that
    blocks on a FIFO fails the test instead of hanging it."""
    code = (
        "import json, sys\n"
        "from builder.sources.emoset import EmoSetSource, SourceError\n"
        "try:\n"
        "    source = EmoSetSource(sys.argv[1])\n"
        "    found = {}\n"
        "    for batch in source.read_all():\n"
        "        found.setdefault(batch.split, []).extend([q.id, q.code, q.field, q.reason] for q in batch.quarantined)\n"
        "    print(json.dumps({'quarantined': found}))\n"
        "except SourceError as exc:\n"
        "    print(json.dumps({'error': str(exc)}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(root)], check=False, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_fifo_or_folder_where_a_file_belongs_is_never_opened(small_tree):
    rows = entries(small_tree, "train")
    annotation = small_tree / rows[0][2]
    annotation.unlink()
    os.mkfifo(annotation)
    image = small_tree / rows[1][1]
    image.unlink()
    os.mkfifo(image)
    found = read_elsewhere(small_tree)["quarantined"]  # opening a FIFO would block forever
    assert sorted(tuple(q[:3]) for q in found["train"]) == sorted([
        (Path(rows[0][2]).stem, "unreadable_annotation", "annotation_path"),
        (Path(rows[1][2]).stem, "missing_image", "image_path")])
    assert all("is not a regular file; not opened" in q[3] for q in found["train"])
    (small_tree / "val.json").unlink()
    os.mkfifo(small_tree / "val.json")
    assert read_elsewhere(small_tree) == {
        "error": f"{small_tree / 'val.json'}: split file is not a regular file; not opened"}
    (small_tree / "val.json").unlink()
    (small_tree / "info.json").unlink()
    (small_tree / "info.json").mkdir()
    with pytest.raises(SourceError, match=r"info\.json: vocabulary file is not a regular file; not opened"):
        EmoSetSource(small_tree)


def test_fifo_split_file_on_the_command_line_is_one_line(small_tree):
    (small_tree / "test.json").unlink()
    os.mkfifo(small_tree / "test.json")
    result = cli("validate", "--emoset-root", str(small_tree), "--quiet", timeout=60)
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"emovit validate: error: {small_tree / 'test.json'}: split file is not a regular file; not opened"])


def test_huge_numbers_deep_nesting_and_nul_paths_are_quarantined(small_tree):
    rows = entries(small_tree, "train")
    annotation = small_tree / rows[0][2]
    annotation.write_text(annotation.read_text().replace('"brightness": ', '"brightness": 1' + "0" * 400 + ', "x": '))
    (small_tree / rows[1][2]).write_text("[" * 200_000 + "]" * 200_000)
    nested = json.loads((small_tree / rows[2][2]).read_text())
    (small_tree / rows[2][2]).write_text(json.dumps(nested)[:-1] + ', "deep": ' + "[" * 200_000 + "]" * 200_000 + "}")
    rows[3] = [rows[3][0], rows[3][1].replace("/", "/\x00", 1), rows[3][2]]
    rows[4] = [rows[4][0], rows[4][1], rows[4][2] + "\x00"]
    write_split(small_tree, "train", rows)
    records, quarantined = read(small_tree)
    ids = [Path(row[2]).stem for row in rows[:5]]
    ids[4] = Path(rows[4][2]).stem
    assert codes(quarantined) == sorted([
        (ids[0], "invalid_type", "brightness"), (ids[1], "unreadable_annotation", "annotation_path"),
        (ids[2], "unreadable_annotation", "annotation_path"), (ids[3], "invalid_path", "image_path"),
        (ids[4], "invalid_path", "annotation_path")])
    assert len(records["train"]) == 19


@pytest.mark.parametrize(("info", "message"), [
    ("[1, 2]", "expected a JSON object"),
    ('"emotion"', "expected a JSON object"),
    ('{"emotion": "label2idx"}', "missing label2idx for emotion"),
    (None, "emotion.label2idx['awe'] must be a whole number, got 'first'"),
    ("[" * 200_000, "cannot read vocabulary"),
])
def test_a_malformed_info_json_is_one_line(small_tree, info, message):
    path = small_tree / "info.json"
    if info is None:
        document = json.loads(path.read_text())
        document["emotion"]["label2idx"]["awe"] = "first"
        info = json.dumps(document)
    path.write_text(info)
    with pytest.raises(SourceError, match=message.replace("[", r"\[").replace("(", r"\(")):
        EmoSetSource(small_tree)
    result = cli("validate", "--emoset-root", str(small_tree), "--quiet")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"emovit validate: error: {path}: ")


def test_validate_out_naming_a_file_and_repeated_splits_are_one_line(small_tree, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    result = cli("validate", "--emoset-root", str(small_tree), "--out", str(taken))
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, [f"emovit validate: error: --out {taken}: exists and is not a folder; choose another --out"])
    assert taken.read_text() == "mine"
    result = cli("validate", "--emoset-root", str(small_tree), "--splits", "train,train")
    assert (result.returncode, result.stderr.strip().splitlines()) == (
        2, ["emovit validate: error: --splits names train more than once"])


def test_a_failed_validate_leaves_the_previous_report_and_quarantine_as_they_were(small_tree, tmp_path):
    out = tmp_path / "v"
    rows = entries(small_tree, "train")
    (small_tree / rows[0][1]).unlink()
    assert cli("validate", "--emoset-root", str(small_tree), "--out", str(out), "--quiet").returncode == 0
    before = {name: (out / name).read_bytes() for name in ("report.json", "quarantine.jsonl")}
    assert b"missing_image" in before["quarantine.jsonl"]
    (small_tree / "train.json").write_text('[["awe", "a", "b"], oops')  # fails as soon as reading starts
    result = cli("validate", "--emoset-root", str(small_tree), "--out", str(out), "--quiet")
    assert result.returncode == 2 and "malformed split file" in result.stderr
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["quarantine.jsonl", "report.json"]


def test_the_pixel_limit_is_checked_before_decoding(tmp_path):
    """A bomb's header is read, never its pixels: the check costs the same at any declared size."""
    from builder.sources.imagefiles import ImageProblem, verify_image_bytes

    with pytest.raises(ImageProblem) as problem:
        verify_image_bytes(bomb_jpeg(60000, 60000))
    assert problem.value.code == "image_too_large"
    checked = verify_image_bytes(noisy_jpeg())
    assert (checked.width, checked.height, checked.format) == (96, 96, "JPEG") and len(checked.sha256) == 64
