"""API models against the loopback OpenAI-compatible server (real ``openai`` client, real HTTP): images as data
URLs, generation with planted 429s, 500s and unusable answers, ranking from ``top_logprobs``, the refusal of
rank mode without log-probabilities, the response cache (a rerun sends nothing), the key kept out of
everything, and OpenAI's image-token rule."""

from __future__ import annotations

import io
import logging
import math

import pytest

from emovit_model.scorers.api import ApiModel, image_tokens
from emovit_model.scoring import EmotionClassifier
from schemas.errors import UsageError
from schemas.protocol import CATEGORICAL_INSTRUCTION
from tests.support.fake_openai import FakeChatServer, image_item

KEY_ENV, KEY = "EMOVIT_TEST_API_KEY", "sk-test-SECRET-api-777"
EMOTIONS = ("awe", "fear", "amusement", "sadness", "anger", "contentment", "disgust", "excitement")


@pytest.fixture
def images(tmp_path):
    """Eight JPEG files (one per emotion's synthetic signal) and the server item each is attributed to."""
    import numpy as np

    from builder.sources.synth import render_image

    rng = np.random.default_rng(3)
    paths, items = [], {}
    for emotion in EMOTIONS:
        path = tmp_path / "images" / f"{emotion}.jpg"
        path.parent.mkdir(exist_ok=True)
        render_image(emotion, rng, 40).save(path, quality=90)
        paths.append(path)
        items[emotion] = image_item(path.read_bytes())
    return paths, items


@pytest.fixture
def server():
    servers = []

    def start(**options) -> FakeChatServer:
        servers.append(FakeChatServer(expected_key=KEY, **options).start())
        return servers[-1]

    yield start
    for started in servers:
        started.stop()


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _classifier(server, tmp_path, **settings) -> EmotionClassifier:
    values = {"base_url": server.base_url, "api_key_env": KEY_ENV, "cache_dir": tmp_path / "cache", "max_retries": 2,
              "backoff_base_s": 0.01, "max_in_flight": 4, "price_per_million_input": 2.0,
              "price_per_million_output": 8.0, "detail": "low"}
    values.update(settings)
    return EmotionClassifier(ApiModel("fake-vlm", **values), None)


def _answer_by_item(items):
    labels = {item: emotion for emotion, item in items.items()}
    return lambda item, request: f"Predict emotion: {labels.get(item, 'awe')}"


def _files_containing(root, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_generate_with_planted_faults_caches_and_never_stores_the_key(server, images, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    paths, items = images
    script = {items["awe"]: [{"status": 429, "retry_after": "1"}], items["fear"]: [{"status": 500}, {"status": 503}],
              items["amusement"]: [{"content": ""}], items["sadness"]: [{"refusal": "I can't help with that."}],
              items["anger"]: [{"body": '{"choices": [ {'}], items["contentment"]: [{"content": "fear or anger?"}]}
    fake = server(script=script, answer=_answer_by_item(items))
    classifier = _classifier(fake, tmp_path)
    assert classifier.family == "openai"
    answers = classifier.generate(paths)

    assert [a.label for a in answers] == ["awe", "fear", None, None, None, None, "disgust", "excitement"]
    assert [a.text for a in answers[2:6]] == ["", "I can't help with that.", "", "fear or anger?"]
    expected_requests = {items["awe"]: 2, items["fear"]: 3, **{items[e]: 1 for e in EMOTIONS[2:]}}
    assert dict(fake.requests) == expected_requests
    awe = [t for t, item, _, _ in fake.log if item == items["awe"]]
    assert awe[1] - awe[0] >= 0.95  # Retry-After: 1 honoured (the backoff alone waits ~10 ms)

    # every image went out as a data URL of the file's own bytes, with the configured detail, after the text
    sent = {item: (mime, data, detail) for item, mime, data, detail in fake.images}
    assert sent[items["awe"]] == ("image/jpeg", paths[0].read_bytes(), "low")
    body = fake.bodies[-1]
    assert [part["type"] for part in body["messages"][0]["content"]] == ["text", "image_url"]
    assert body["messages"][0]["content"][0]["text"] == CATEGORICAL_INSTRUCTION
    assert body["temperature"] == 0.0 and body["max_tokens"] == 12 and "logprobs" not in body

    # 7 answered (the malformed body is not a completion): 100 prompt + 50 completion tokens each, 2 / 8 USD per M
    usage = classifier.usage()
    assert (usage["requests"], usage["retries"], usage["answered"], usage["failed"], usage["cached"]) == (11, 3, 7, 1, 0)
    assert usage["cost_usd"] == pytest.approx(7 * (100 * 2.0 + 50 * 8.0) / 1e6)
    assert usage["prices"] == {"input_per_million": 2.0, "output_per_million": 8.0, "source": "given"}

    # a rerun sends only the unanswered request (the malformed one, now answered); everything else is free
    before = fake.total_requests
    again = _classifier(fake, tmp_path).generate(paths)
    assert fake.total_requests - before == 1
    assert [a.label for a in again] == ["awe", "fear", None, None, "anger", None, "disgust", "excitement"]
    assert _files_containing(tmp_path, KEY) == []
    assert not any(KEY in record.getMessage() for record in caplog.records)


def test_rank_scores_are_first_token_log_probabilities(server, images, tmp_path):
    """At the token after ``Predict emotion:`` the server lists alternatives; each label takes its first token's
    log-probability (the longest listed prefix), labels not listed the smallest listed value."""
    paths, _ = images
    alternatives = {" awe": -0.2, " fear": -1.9, " am": -2.3, " a": -2.5, " anger": -4.0, "Hmm": -6.5}

    def top(item, position, token):
        return alternatives if position == 3 else {token: -0.05}

    fake = server(answer=lambda item, request: "Predict emotion: awe", top_logprobs=top)
    classifier = _classifier(fake, tmp_path)
    scores = classifier.score(paths[:3])
    expected = {"amusement": -2.3, "anger": -4.0, "awe": -0.2, "contentment": -6.5, "disgust": -6.5,
                "excitement": -6.5, "fear": -1.9, "sadness": -6.5}
    assert scores == [expected] * 3
    assert classifier.predict(paths[:3]) == ["awe"] * 3
    body = fake.bodies[-1]
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert fake.total_requests == 3
    assert _classifier(fake, tmp_path).score(paths[:3]) == [expected] * 3 and fake.total_requests == 3


def test_rank_is_refused_in_one_line_without_logprobs_after_one_request(server, images, tmp_path):
    paths, _ = images
    fake = server(logprobs=False, answer=lambda item, request: "Predict emotion: awe")
    with pytest.raises(UsageError) as caught:
        _classifier(fake, tmp_path).score(paths)
    assert str(caught.value) == ("fake-vlm at 127.0.0.1:" f"{fake.base_url.split(':')[-1].split('/')[0]}/v1 returns no "
                                 "logprobs/top_logprobs, which rank mode needs; score this model with mode: generate")
    assert fake.total_requests == 1  # the probe only


def test_requests_still_failing_stop_the_batch_and_a_rerun_sends_only_them(server, images, tmp_path):
    paths, items = images
    fake = server(script={items["fear"]: [{"status": 500}] * 3}, answer=_answer_by_item(items))
    with pytest.raises(UsageError, match="1 request\\(s\\) got no answer after 2 retries \\(gave up after 3 attempt"):
        _classifier(fake, tmp_path).generate(paths)
    assert fake.total_requests == 8 + 2
    answers = _classifier(fake, tmp_path).generate(paths)
    assert fake.total_requests == 11 and [a.label for a in answers] == list(EMOTIONS)


def test_unreachable_endpoint_stops_with_one_line(images, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    classifier = EmotionClassifier(ApiModel("fake-vlm", base_url=f"http://127.0.0.1:{port}/v1", api_key_env=KEY_ENV,
                                            max_retries=5, backoff_base_s=0.0, max_connection_failures=3,
                                            cache_dir=tmp_path / "cache"), None)
    with pytest.raises(UsageError, match="cannot reach http://127.0.0.1:.*3 connection attempts in a row"):
        classifier.generate(images[0][:2])


def test_missing_key_is_one_line_and_sends_nothing(server, images, tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    fake = server()
    with pytest.raises(UsageError, match=f"environment variable {KEY_ENV} is not set"):
        _classifier(fake, tmp_path).generate(images[0][:1])
    assert fake.total_requests == 0


def test_image_tokens_follow_openais_tiling_rule():
    # OpenAI's worked examples: 1024 x 1024 high = 765; 2048 x 4096 high = 1105; any size low = 85
    assert image_tokens(1024, 1024, "high", "gpt-4o") == 85 + 170 * 4
    assert image_tokens(2048, 4096, "high", "gpt-4o") == 85 + 170 * 6
    assert image_tokens(4096, 8192, "low", "gpt-4o") == 85
    assert image_tokens(300, 200, "high", "gpt-4o") == 85 + 170  # small images are not scaled up: one tile
    assert image_tokens(1024, 1024, "auto", "gpt-4o-2024-08-06") == 765  # auto counted as high
    assert image_tokens(1024, 1024, "high", "gpt-4o-mini") == 2833 + 5667 * 4
    assert image_tokens(1024, 1024, "low", "gpt-4o-mini-2024-07-18") == 2833


def test_estimate_prices_what_is_not_cached(server, images, tmp_path):
    """The dry-run estimate: text at 4 characters a token plus 4 + 3 chat-format tokens, the image by the tiling
    rule (a 40-px image at detail high is one tile), the generation budget as completion tokens."""
    paths, items = images
    fake = server(answer=_answer_by_item(items))
    classifier = _classifier(fake, tmp_path, detail="high")
    instructions = [CATEGORICAL_INSTRUCTION] * 8
    found = classifier.scorer.estimate(paths, instructions, 12, rank=False)
    per_request = math.ceil(len(CATEGORICAL_INSTRUCTION) / 4) + 4 + 3 + 85 + 170
    assert found == {"images": 8, "cached": 0, "requests": 8, "prompt_tokens": 8 * per_request,
                     "completion_tokens": 8 * 12, "cost_usd": pytest.approx((8 * per_request * 2 + 96 * 8) / 1e6)}
    assert fake.total_requests == 0
    classifier.generate(paths[:3])
    later = classifier.scorer.estimate(paths, instructions, 12, rank=False)
    assert (later["cached"], later["requests"]) == (3, 5) and fake.total_requests == 3


def test_a_png_in_memory_is_sent_as_png_and_keyed_by_its_pixels(server, tmp_path):
    from PIL import Image

    fake = server(answer=lambda item, request: "Predict emotion: awe")
    image = Image.new("RGB", (20, 10), (10, 200, 30))
    classifier = _classifier(fake, tmp_path)
    assert [a.label for a in classifier.generate([image])] == ["awe"]
    _, mime, data, _ = fake.images[0]
    assert mime == "image/png"
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == image.tobytes()
    image.save(tmp_path / "same.png")  # the same pixels from a file: already answered
    classifier.generate([tmp_path / "same.png"])
    assert fake.total_requests == 1


def test_api_model_settings_are_checked():
    with pytest.raises(UsageError, match="detail must be one of low, high, auto"):
        ApiModel("m", detail="medium")
    with pytest.raises(UsageError, match="api_key_env must be the NAME"):
        ApiModel("m", api_key_env="sk-live-oops")
    with pytest.raises(UsageError, match="base_url must not carry credentials"):
        ApiModel("m", base_url="https://user:pw@example.org/v1")


def test_scoring_works_inside_a_running_event_loop(server, images, tmp_path):
    """From a notebook's loop the requests run in a thread of their own, with their own cache connection."""
    import asyncio

    fake = server(answer=lambda item, request: "Predict emotion: awe")
    classifier = _classifier(fake, tmp_path)

    async def caller():
        return classifier.generate(images[0][:2])

    assert [a.label for a in asyncio.run(caller())] == ["awe", "awe"]
    assert [a.label for a in classifier.generate(images[0][:2])] == ["awe", "awe"] and fake.total_requests == 2
