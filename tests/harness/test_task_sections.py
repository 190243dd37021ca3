"""Human votes, slices, polarity errors and probes of ``leaderboard_tasks.json`` (and their keys on the
``leaderboard.json`` rows), each against numbers worked out by hand on a small run
(:mod:`tests.support.task_sections_runs`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from benchmarks.board.leaderboard import write_leaderboard
from benchmarks.score.figures import RunRecord
from benchmarks.score.slices import slices_section, value_bin
from benchmarks.score.task_data import TaskContext
from tests.support.task_sections_runs import write_case


def _bits(shares) -> float:
    return -sum(p * math.log2(p) for p in shares if p > 0)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("sections")
    runs = write_case(root)
    rows = write_leaderboard([runs], root / "board", plots=False)
    tasks = json.loads((root / "board" / "leaderboard_tasks.json").read_text())["tasks"]
    return {(row["model"], row["task"]): row for row in rows}, tasks, root / "board"


def _wilson(k, n):
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    return pytest.approx([low, high], abs=1e-9)


def test_human_votes_by_hand(board):
    rows, tasks, _ = board
    section = tasks["emotion6"]["human_votes"]
    # e1 votes joy .6, sadness .2, neutral .2 -> joy .75, sadness .25 over the task's labels; e2 tied; e3 fear 1;
    # e4 sadness .5, joy .25, anger .25
    assert section["n_images"] == 4 and section["tied"] == 1 and section["positive_labels"] == ["joy"]
    reference = section["human_reference"]
    assert reference["n"] == 3 and reference["mean"] == pytest.approx((0.75 + 1.0 + 0.5) / 3)   # majority shares
    half = 1.959964 * 0.25 / math.sqrt(3)                      # sample sd of (.75, 1, .5) is .25
    assert reference["ci"] == pytest.approx([0.75 - half, 1.0], abs=1e-5) and reference["ranked"] is False
    # model m scores every label equally (m = 1/6 each): KL = ln 6 - H(h) (nats); JS = H(a) - H(h)/2 - H(m)/2 (bits)
    entropies = [-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), math.log(2), 0.0, 1.5 * math.log(2)]
    kl = [math.log(6) - h for h in entropies]
    humans = [[0, 0, 0, 0.75, 0.25, 0], [0.5, 0, 0.5, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0.25, 0, 0, 0.25, 0.5, 0]]
    js = [_bits([(p + 1 / 6) / 2 for p in h]) - _bits(h) / 2 - math.log2(6) / 2 for h in humans]
    m = section["models"]["m"]
    assert m["n"] == 4 and m["kl"]["n"] == 4 and m["kl"]["mean"] == pytest.approx(sum(kl) / 4)
    assert m["js"]["mean"] == pytest.approx(sum(js) / 4) and 0 < m["js"]["mean"] < 1
    # majority accuracy (tied e2 left out): m e1 joy ok, e3 sadness wrong, e4 sadness ok -> 2/3
    assert m["majority_accuracy"]["rate"] == pytest.approx(2 / 3) and m["majority_accuracy"]["n"] == 3
    assert m["majority_accuracy"]["ci"] == _wilson(2, 3)
    assert section["models"]["v"]["majority_accuracy"]["rate"] == pytest.approx(1 / 3)
    # g answered in text (no scores): majority accuracy only; its data came from m's folder (imported run)
    g = section["models"]["g"]
    assert g["majority_accuracy"]["rate"] == pytest.approx(2 / 3) and g["kl"] is None and g["js"] is None
    # Spearman of P(joy) (v scores joy 2, 0, -1, 1) against valence 7, 5, 2, 4: ranks 4,2,1,3 vs 4,3,1,2
    assert section["models"]["v"]["valence_spearman"] == {"n": 4, "rho": pytest.approx(1 - 6 * 2 / (4 * 15))}
    assert m["valence_spearman"]["rho"] is None                 # a constant P(joy) has no rank correlation
    row = rows[("m", "emotion6")]
    assert row["human_kl"] == pytest.approx(sum(kl) / 4) and row["human_js"] == pytest.approx(sum(js) / 4)
    assert row["majority_accuracy"] == pytest.approx(2 / 3) and row["majority_n"] == 3
    assert rows[("v", "emotion6")]["valence_spearman"] == pytest.approx(0.8)
    assert rows[("g", "emotion6")]["human_kl"] is None and tasks["emoset8"]["human_votes"] is None


def test_slice_accuracy_by_hand(board):
    _rows, tasks, _ = board
    section = tasks["emoset8"]["slices"]
    table = section["attributes"]
    ours = {name: {value: (per["ours"]["k"], per["ours"]["n"]) for value, per in values.items()}
            for name, values in table.items()}
    # right: i0, i2, i3; wrong: i1, i4 (i5..i8 carry no attributes)
    assert ours == {"scene": {"beach": (1, 2), "office": (2, 2)},
                    "objects": {"Cat": (2, 2), "Dog": (1, 3)},
                    "facial_expression": {"happy": (1, 1)},
                    "brightness": {"0.0-0.2": (1, 1), "0.2-0.4": (1, 2), "0.6-0.8": (1, 1), "0.8-1.0": (0, 1)},
                    "colorfulness": {"0.6-0.8": (1, 2), "0.8-1.0": (2, 2)}}
    assert table["objects"]["Dog"]["ours"]["rate"] == pytest.approx(1 / 3)
    assert table["objects"]["Dog"]["ours"]["ci"] == _wilson(1, 3)
    assert section["hardest"] == {"ours": []}                   # no slice reaches n = 20
    assert tasks["emotion6"]["slices"] is None


def test_bins_of_a_fifth():
    assert [value_bin(v) for v in (0.0, 0.19999, 0.2, 0.6, 0.8, 1.0)] == \
        ["0.0-0.2", "0.0-0.2", "0.2-0.4", "0.6-0.8", "0.8-1.0", "0.8-1.0"]
    assert value_bin(1.2) is None and value_bin(None) is None and value_bin(True) is None


def test_five_hardest_slices_with_n_at_least_20(tmp_path):
    rows, records, n = [], {}, 0
    # scenes s0..s6: 20 images each, j of them right; "big": 40 images, 2 right; "tiny": 19 images, none right
    for scene, size, right in [*((f"s{j}", 20, j) for j in range(7)), ("big", 40, 2), ("tiny", 19, 0)]:
        for k in range(size):
            image = f"x{n}"
            n += 1
            records[image] = {"image_id": image, "attributes": {"scene": scene}}
            rows.append({"id": image, "image_id": image, "gold": "awe", "pred": "awe" if k < right else "fear",
                         "raw": None, "scores": None})
    run = RunRecord("mod", "t", rows, tmp_path / "predictions.jsonl", None)
    section = slices_section("t", [run], TaskContext("t", None, ("awe", "fear"), records))
    hardest = [(s["value"], s["k"], s["n"]) for s in section["hardest"]["mod"]]
    # 0/20; then 2/40 and 1/20 tie at .05 (the larger n first); 2/20; 3/20 ("tiny" has n < 20)
    assert hardest == [("s0", 0, 20), ("big", 2, 40), ("s1", 1, 20), ("s2", 2, 20), ("s3", 3, 20)]


def test_polarity_error_split_by_hand(board):
    rows, tasks, _ = board
    ours = tasks["emoset8"]["polarity_errors"]["models"]["ours"]
    # awe->contentment, anger->disgust same; awe->fear, sadness->amusement cross; fear unparsed
    assert {k: ours[k] for k in ("n", "errors", "same_polarity", "cross_polarity", "unpolarised", "unanswered")} == \
        {"n": 9, "errors": 5, "same_polarity": 2, "cross_polarity": 2, "unpolarised": 0, "unanswered": 1}
    assert ours["cross_share"]["rate"] == 0.5 and ours["cross_share"]["ci"] == _wilson(2, 4)
    g = tasks["emotion6"]["polarity_errors"]["models"]["g"]      # joy->sadness cross; anger->surprise unpolarised
    assert (g["same_polarity"], g["cross_polarity"], g["unpolarised"]) == (0, 1, 1)
    assert tasks["emotion6"]["polarity_errors"]["polarity"]["surprise"] is None
    row = rows[("ours", "emoset8")]
    assert (row["same_polarity_errors"], row["cross_polarity_errors"], row["cross_polarity_share"]) == (2, 2, 0.5)
    assert tasks["blank"]["polarity_errors"] is None              # a grey image has no emotion to get wrong


def test_flip_rate_and_gold_first_vs_last_by_hand(board):
    rows, tasks, _ = board
    section = tasks["sensitivity"]["probes"]                     # an imported run: orders from the packaged task
    assert section["reference_variant"] == "original" and section["ranked"] is True
    p = section["models"]["p"]
    # shuffled vs original: s2 and s3 answer differently (s3 unparsed in original) -> 2/5; reversed: s0 -> 1/5
    assert (p["flip_rate"]["shuffled"]["k"], p["flip_rate"]["shuffled"]["n"]) == (2, 5)
    assert (p["flip_rate"]["reversed"]["k"], p["flip_rate"]["reversed"]["n"]) == (1, 5)
    assert p["flip_rate"]["shuffled"]["ci"] == _wilson(2, 5)
    # shuffled rows: gold first s0 (right), s1 (wrong); gold last s2, s3 (both right); first option s0, s4
    assert (p["gold_first"]["k"], p["gold_first"]["n"]) == (1, 2) and (p["gold_last"]["k"], p["gold_last"]["n"]) == (2, 2)
    assert (p["first_option_share"]["k"], p["first_option_share"]["n"]) == (2, 5)
    row = rows[("p", "sensitivity")]
    assert (row["flip_rate"], row["flip_n"]) == (pytest.approx(3 / 10), 10)
    assert (row["gold_first_accuracy"], row["gold_first_n"], row["gold_last_accuracy"], row["gold_last_n"]) == \
        (0.5, 2, 1.0, 2)
    assert rows[("ours", "emoset8")]["flip_rate"] is None and tasks["emoset8"]["probes"] is None


def test_blank_probe_by_hand(board):
    _rows, tasks, _ = board
    section = tasks["blank"]["probes"]
    assert section["ranked"] is False and section["chance"] == 1 / 8
    p = section["blank"]["p"]
    # 16 rows: 12 answered sadness, 4 unparsed; only blank-sadness-0 is right
    assert (p["accuracy"]["k"], p["accuracy"]["n"]) == (1, 16) and p["accuracy"]["ci"] == _wilson(1, 16)
    assert p["predicted"]["sadness"] == 0.75 and p["unanswered"] == 0.25
    assert sum(p["predicted"].values()) + p["unanswered"] == 1.0


def test_the_blank_probe_is_never_ranked(board):
    rows, tasks, folder = board
    row = rows[("p", "blank")]
    assert (row["rank"], row["tied_with_best"], row["p_vs_best"], row["mcnemar"]) == (None, None, None, {})
    assert tasks["blank"]["ranked"] is False and tasks["blank"]["ties"] is None
    assert rows[("ours", "emoset8")]["rank"] == 1 and tasks["emoset8"]["ranked"] is True
    text = (Path(folder) / "leaderboard.md").read_text()
    blank = text[text.index("## blank"):]
    assert "A probe: reported beside chance level, never ranked." in blank
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in blank.splitlines() if line.startswith("| –")]
    assert cells[0][:2] == ["–", "p"] and cells[0][5] == "–" and cells[0][-1] == "–"   # no rank, tie or test


def test_markdown_carries_the_sections(board):
    _, _, folder = board
    text = (Path(folder) / "leaderboard.md").read_text()
    assert "Agreement with human votes" in text and "| human reference (not ranked) | 3" in text
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ours")]
    assert ["ours", "5", "2", "2", "0", "1", "0.500 [0.150, 0.850]"] in cells
    assert "Blank image (label prior; not ranked)" in text and "flips: shuffled" in text


@pytest.mark.parametrize("bad, field", [({"flip_rate": 1.5}, "share_in_unit_interval"),
                                        ({"majority_n": -1}, "count_is_a_non_negative_integer"),
                                        ({"gold_first_n": 1.5}, "count_is_a_non_negative_integer"),
                                        ({"human_kl": -0.1}, "kl_is_a_non_negative_number"),
                                        ({"valence_spearman": 2.0}, "correlation_in_minus_one_to_one")])
def test_the_row_schema_checks_the_section_keys(board, bad, field):
    from schemas.predictions import validate_leaderboard_rows

    rows, _, _ = board
    good = list(rows.values())
    validate_leaderboard_rows(good)                              # null where a figure does not apply
    with pytest.raises(ValueError, match=field):
        validate_leaderboard_rows([{**good[0], **bad}])


def test_an_imported_run_is_read_with_its_packaged_tasks_labels(board):
    _, tasks, _ = board
    # the sensitivity rows name seven of the eight labels; the packaged task lists all eight
    assert len(tasks["sensitivity"]["labels"]) == 8


def test_an_imported_run_reads_the_votes_where_the_data_lies(tmp_path, capsys):
    """No config, no sample_data.jsonl: ``--data data.roots.emotion6=ROOT`` reads the archive's
    ground_truth.txt; the human reference is worked out here from that file's text."""
    from builder.cli import main
    from builder.sources.layouts import LayoutConfig, write_layout
    from tests.support.task_sections_runs import EMOTION6, row, write_run

    root = tmp_path / "emotion6"
    write_layout(root, LayoutConfig("emotion6", per_class=2))
    lines = (root / "ground_truth.txt").read_text().splitlines()[1:]
    shares, majority, answers = [], {}, []
    for line in lines:
        name, _, _, *probs = line.split("\t")
        votes = [float(p) for p in probs[:6]]                    # neutral (the 7th) is dropped
        top = max(votes)
        if votes.count(top) == 1:
            shares.append(top / sum(votes))
            majority[f"images/{name}"] = EMOTION6[votes.index(top)]
        answers.append(row("x", "emotion6", f"images/{name}", name.split("/")[0], None,
                           raw=f"Predict emotion: {name.split('/')[0]}"))
    write_run(tmp_path / "runs" / "x" / "emotion6", answers)
    out = tmp_path / "board"
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(out), "--no-plots",
                 "--data", f"data.roots.emotion6={root}"]) == 0
    section = json.loads((out / "leaderboard_tasks.json").read_text())["tasks"]["emotion6"]["human_votes"]
    assert section["n_images"] == len(lines) == 12 and section["tied"] == 12 - len(shares)
    assert section["human_reference"]["mean"] == pytest.approx(sum(shares) / len(shares))
    right = sum(a["gold"] == majority[a["image_id"]] for a in answers if a["image_id"] in majority)
    assert section["models"]["x"]["majority_accuracy"]["rate"] == pytest.approx(right / len(majority))
    capsys.readouterr()
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(out), "--data", "data.x=1"]) == 2
    assert "data.x=1: the leaderboard reads task data from data.build=BUILD" in capsys.readouterr().err


def test_abstract_vote_counts_by_hand(tmp_path):
    """Abstract ships vote counts: 3 awe + 1 fear is h = (.75, .25); 2 + 2 is a tied majority."""
    from benchmarks.score.votes import human_votes_section

    labels = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
    records = {"a1": {"image_id": "a1", "votes": {"awe": 3, "fear": 1, "anger": 0}},
               "a2": {"image_id": "a2", "votes": {"sadness": 2, "contentment": 2}},
               "a3": {"image_id": "a3", "votes": {"anger": 0}}}                    # no vote: left out
    rows = [{"id": i, "image_id": i, "gold": "awe", "pred": "fear", "raw": None, "scores": None}
            for i in ("a1", "a2", "a3")]
    run = RunRecord("mod", "abstract", rows, tmp_path / "predictions.jsonl", None)
    section = human_votes_section("abstract", [run], TaskContext("abstract", None, labels, records))
    assert (section["n_images"], section["tied"]) == (2, 1)
    assert section["human_reference"]["mean"] == 0.75 and section["human_reference"]["n"] == 1
    assert section["models"]["mod"]["majority_accuracy"]["rate"] == 0.0      # fear is not a1's majority (awe)
    assert section["models"]["mod"]["kl"] is None                            # no scores


def test_an_imported_emoset_run_reads_the_attributes_from_the_build(tmp_path, bench_build):
    """No sample_data.jsonl: ``--data data.build=BUILD`` reads EmoSet's attributes from the build; the scene
    slices are counted here from the build's rows, read with ``datasets`` directly."""
    import datasets

    from builder.cli import main
    from tests.support.task_sections_runs import row, write_run

    test = datasets.load_from_disk(str(bench_build))["test"]
    names = test.features["emotion"].names
    first = {}
    for item in test:
        first.setdefault(item["image_id"], item)
    answers = [row("x", "emoset8", i, names[item["emotion"]], "awe") for i, item in first.items()]
    write_run(tmp_path / "runs" / "x" / "emoset8", answers)
    expected: dict[str, list[int]] = {}
    for item in first.values():
        scene = (item["attributes"] or {}).get("scene")
        if scene:
            tally = expected.setdefault(scene, [0, 0])
            tally[0] += names[item["emotion"]] == "awe"
            tally[1] += 1
    out = tmp_path / "board"
    assert main(["bench", "leaderboard", "--runs", str(tmp_path / "runs"), "--out", str(out), "--no-plots",
                 "--data", f"data.build={bench_build}"]) == 0
    scenes = json.loads((out / "leaderboard_tasks.json").read_text())["tasks"]["emoset8"]["slices"]["attributes"]["scene"]
    assert expected and {value: [per["x"]["k"], per["x"]["n"]] for value, per in scenes.items()} == expected
