"""Fixtures shared by every test package."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from builder.sources.synth import SynthConfig, synthesise

#: EmoSet's real split lists, compressed, with their licence note (tests/fixtures/emoset/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "emoset"


# Property-based tests of the readers of foreign input: a few examples per property in the default run, many
# in a long one (`pytest --hypothesis-profile long`, README "Reliability"). No deadline: a reader that starts
# a subprocess or decodes an image is slow on its first example, and a hang is caught by the test's timeout.
settings.register_profile("default", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("default")

#: Variables of the caller's environment that would change what the code under test does (an
#: ``OPENAI_BASE_URL`` for vLLM or a proxy, an ``HF_TOKEN``, an ``EMOVIT_CACHE``). The suite clears them all.
CLEARED_PREFIXES = ("OPENAI_", "HF_", "HUGGINGFACE_", "EMOVIT_")
#: ... except these, which configure the tests themselves (where the browser tests keep their screenshots, and
#: the performance suites' size scale, tests/support/scale.py).
KEPT = frozenset({"EMOVIT_TEST_ARTIFACTS", "EMOVIT_BENCH_SCALE"})


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """The whole suite runs without the caller's ``OPENAI_*``, ``HF_*`` and ``EMOVIT_*`` variables.

    Caches that would otherwise land in the user's home (the Hugging Face cache, the emovit response cache)
    point into a temporary folder instead.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(CLEARED_PREFIXES) and name not in KEPT:
                patch.delenv(name)
        home = tmp_path_factory.mktemp("isolated_home")
        patch.setenv("HF_HOME", str(home / "huggingface"))
        patch.setenv("EMOVIT_CACHE", str(home / "emovit-cache"))
        yield


@pytest.fixture(scope="session")
def emoset_split_lists(tmp_path_factory) -> Path:
    """A folder holding EmoSet's real ``val.json`` and ``test.json`` (decompressed from the fixtures)."""
    folder = tmp_path_factory.mktemp("emoset_lists")
    for name in ("val.json", "test.json"):
        (folder / name).write_bytes(gzip.decompress((FIXTURES / f"{name}.gz").read_bytes()))
    return folder


@pytest.fixture(scope="session")
def small_tree_template(tmp_path_factory) -> Path:
    """A synthetic tree with 3 images per class in train/val/test (written once per session)."""
    root = tmp_path_factory.mktemp("small_tree") / "emoset"
    synthesise(root, SynthConfig(per_class=3, seed=7, splits=("train", "val", "test"), image_size=16), progress=False)
    return root


@pytest.fixture
def small_tree(small_tree_template, tmp_path) -> Path:
    """A private, mutable copy of the small synthetic tree."""
    root = tmp_path / "emoset"
    shutil.copytree(small_tree_template, root)
    return root
