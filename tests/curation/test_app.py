"""``emovit curate app`` serves the real FiftyOne App on a loopback port; Debian's headless Chromium renders
the dataset page and the test reads the rendered DOM. The screenshot is kept as a test artefact (in
``$EMOVIT_TEST_ARTIFACTS`` when set, else pytest's temporary directory, which pytest keeps for three runs)."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                         "(apt-get install -y chromium; .ci/run installs it)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def chromium(url: str, profile: Path, *mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900",
         "--hide-scrollbars", "--virtual-time-budget=20000", *mode, url],
        capture_output=True, text=True, timeout=180, check=False)


def _wait_for_line(process: subprocess.Popen, needle: str, seconds: float) -> list[str]:
    lines, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} from emovit curate app within {seconds} s:\n{''.join(lines)}")


def _wait_for_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def served(planted):
    dataset, _ = planted
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "builder.cli", "curate", "app", "--name", dataset.name,
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = _wait_for_line(process, "Press Ctrl-C to stop.", 120)
        url = f"http://127.0.0.1:{port}/datasets/{dataset.name}"
        _wait_for_http(url, 60)
        yield {"process": process, "url": url, "port": port, "lines": lines, "dataset": dataset}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_app_prints_url_and_ssh_hint(served):
    text = "".join(served["lines"])
    port = served["port"]
    assert f"FiftyOne App for dataset 'planted': {served['url']}" in text
    assert f"ssh -N -L {port}:127.0.0.1:{port}" in text


def test_app_binds_loopback_only(served):
    with socket.create_connection(("127.0.0.1", served["port"]), timeout=5):
        pass
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = {line.split()[1] for line in listening if line.split()[3] == "0A"}  # 0A: LISTEN
    assert f"0100007F:{served['port']:04X}" in local  # 127.0.0.1
    assert f"00000000:{served['port']:04X}" not in local  # not 0.0.0.0


def test_chromium_renders_the_dataset_and_its_sample_grid(served, tmp_path_factory):
    dataset = served["dataset"]
    profile = tmp_path_factory.mktemp("chromium-profile")
    dom = chromium(served["url"], profile, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert 'data-cy="dataset-page"' in page
    assert re.search(r'data-cy="selector-dataset"[^>]*value="planted"', page)
    assert 'data-cy="sidebar-entry-draggable-emotion"' in page
    assert 'data-cy="saved-views-selection"' in page
    lookers = page.count('data-cy="looker"')
    assert lookers >= 12, f"only {lookers} grid cells rendered"
    shown = [html.unescape(t) for t in re.findall(r'title="(emotion: [^"]+)" data-cy="tag-emotion"', page)]
    expected = [f"emotion: {label}" for label in dataset.values("emotion.label")]
    assert len(shown) >= 12 and shown == expected[:len(shown)]

    artefacts = Path(os.environ.get("EMOVIT_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    artefacts.mkdir(parents=True, exist_ok=True)
    screenshot = artefacts / "curation-app.png"
    shot = chromium(served["url"], profile, f"--screenshot={screenshot}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    with Image.open(screenshot) as image:
        assert image.size == (1280, 900)
        colours = image.convert("RGB").resize((64, 45)).getcolors(64 * 45)
        assert colours is None or len(colours) > 50  # a rendered grid, not a blank page
    print(f"\nApp screenshot: {screenshot}")


def test_app_stops_cleanly_on_sigterm(served):
    process = served["process"]
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "App stopped." in rest
