"""The probes' tasks: option-order variants (reversed, shuffled per image), the blank-image task, and the
per-image task data a run folder carries (``sample_data.jsonl``)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from benchmarks.data.sample_data import read_sample_data, write_sample_data
from benchmarks.data.samples import BLANK_GREY, blank_samples
from benchmarks.spec.config import load_config
from benchmarks.spec.task import Task, load_task, option_order, options_text, task_of_run
from schemas.errors import UsageError
from schemas.protocol import ALPHABETICAL_EMOTIONS

LABELS = ("a", "b", "c", "d")


def test_reversed_and_shuffled_orders_by_hand():
    assert option_order(LABELS, None, "x") == LABELS
    assert option_order(LABELS, {"options": "reversed"}, "x") == ("d", "c", "b", "a")
    # shuffled: numpy's default_rng seeded by the first 8 bytes of sha256("<seed>\0<image id>")
    seed = int.from_bytes(hashlib.sha256(b"7\0img1").digest()[:8], "big")
    expected = tuple(LABELS[i] for i in np.random.default_rng(seed).permutation(4))
    assert option_order(LABELS, {"options": "shuffled", "seed": 7}, "img1") == expected
    orders = {option_order(ALPHABETICAL_EMOTIONS, {"options": "shuffled", "seed": 0}, f"i{k}") for k in range(20)}
    assert len(orders) > 15 and all(sorted(o) == list(ALPHABETICAL_EMOTIONS) for o in orders)


def test_sensitivity_asks_each_image_its_own_shuffled_order():
    task = load_task("sensitivity")
    order = option_order(task.labels, {"options": "shuffled", "seed": 0}, "awe_00001")
    assert task.question("shuffled", "awe_00001") == task.variants["shuffled"].replace("{options}", options_text(order))
    assert task.options_asked("shuffled", "awe_00001") == order
    assert task.options_asked("reversed", "awe_00001")[0] == "sadness"
    assert task.options_asked("original", "awe_00001") == task.labels
    # a run's config.json describes the task again, orders included (imported runs fall back to the packaged task)
    again = task_of_run("sensitivity", {"task": task.describe()})
    assert again.orders == task.orders and again.options_asked("shuffled", "awe_00001") == order
    assert task_of_run("sensitivity", {"task": "garbage"}).orders == task.orders
    assert task_of_run("mine", None) is None


@pytest.mark.parametrize("variants, message", [
    ("  v: {instruction: 'q {options}', options: sideways}\n", "'options' must be one of given, reversed, shuffled"),
    ("  v: {instruction: 'q {options}', options: shuffled, seed: x}\n", "'seed' must be an integer"),
    ("  v: {instruction: 'q', options: reversed}\n", "needs {options}"),
    ("  v: {instruction: 'q {options}', colour: red}\n", "must be an instruction or"),
])
def test_bad_variant_orders_are_one_clear_error(tmp_path, variants, message):
    path = tmp_path / "task.yaml"
    path.write_text("name: x\nsource: build\nlabels: [a, b]\nvariants:\n" + variants)
    with pytest.raises(UsageError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_task(path)


def test_blank_task_asks_a_uniform_grey_image_per_label():
    task = load_task("blank")
    assert task.source == "blank" and task.per_label == 8 and set(task.variants) == {"original", "shuffled"}
    samples = blank_samples(task)
    assert len(samples) == 8 * 8 * 2
    assert {s.gold for s in samples} == set(ALPHABETICAL_EMOTIONS)
    assert sum(s.gold == "awe" and s.variant == "original" for s in samples) == 8
    image = np.asarray(samples[0].image)
    assert image.shape == (224, 224, 3) and (image == np.array(BLANK_GREY)).all()
    assert samples[0].id == "blank-amusement-0#original"
    assert load_config("probes").tasks == ["sensitivity", "blank"]


def test_blank_per_label_is_checked(tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text("name: x\nsource: blank\nlabels: [a, b]\ninstruction: q\nper_label: 0\n")
    with pytest.raises(UsageError, match="'per_label' must be a positive integer"):
        load_task(path)


def test_sample_data_round_trip_and_bad_lines(tmp_path):
    records = [{"image_id": "e1", "votes": {"joy": 0.5, "fear": 0.5}, "valence": 6.0, "arousal": 4.0},
               {"image_id": "e2", "attributes": {"scene": "beach", "brightness": 0.3}}]
    path = write_sample_data(tmp_path, records)
    assert path.name == "sample_data.jsonl" and read_sample_data(path) == {"e1": records[0], "e2": records[1]}
    assert write_sample_data(tmp_path / "none", []) is None
    path.write_text('{"image_id": "e1", "votes": {"joy": -1}}\n')
    with pytest.raises(UsageError, match=r"sample_data.jsonl:1: unreadable sample data \(votes map labels"):
        read_sample_data(path)


def test_describe_round_trips_a_task():
    task = load_task("blank")
    assert Task.from_description(task.describe()) == task


@pytest.mark.parametrize("orders", [{"shuffled": "x"}, {"shuffled": {"options": "sideways"}},
                                    {"gone": {"options": "reversed"}}, {"shuffled": {"options": "shuffled", "seed": "0"}}])
def test_a_config_with_malformed_orders_falls_back_to_the_packaged_task(orders):
    described = {**load_task("sensitivity").describe(), "orders": orders}
    assert Task.from_description(described) is None
    assert task_of_run("sensitivity", {"task": described}).orders == load_task("sensitivity").orders
