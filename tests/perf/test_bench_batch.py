"""The Batch API backend at EmoSet-3.3M scale: memory and speed of the local side.

Memory (``test_batch_peak_memory_is_flat``): :meth:`OpenAIBatchGenerator.prepare` on 20,000 and on 200,000
conversation requests (items made lazily, as the builder streams them), each run in its own subprocess
against the loopback Files + Batches server of :mod:`tests.support.fake_batches` (served from this process):
request files written (about 4.5 KB a request, cut at 200 MB), uploaded, batches started, polled, output
files downloaded and every answer stored in the response cache. Peak RSS is the subprocess's own ``VmHWM``
(:mod:`tests.support.memory`).

Speed (``test_request_file_throughput``): writing 20,000 request lines into batch input files with their
state rows, the local work per request before the upload.

Run: ``pytest tests/perf/test_bench_batch.py --benchmark-enable -s`` (``EMOVIT_BENCH_SCALE`` shrinks the counts).
"""

from __future__ import annotations

import json
import time

from tests.support.fake_batches import FakeBatchServer
from tests.support.memory import measured_run
from tests.support.scale import scaled

_MEASURE = """
import json, os, sys, time
from builder.generation import GenerationConfig, GenerationItem
from builder.generation.openai_batch import OpenAIBatchGenerator
from builder.sources.records import SourceRecord

count, base_url, cache = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.environ["EMOVIT_BENCH_KEY"] = "sk-bench"
config = GenerationConfig(base_url=base_url, api_key_env="EMOVIT_BENCH_KEY", cache_dir=cache, backoff_base_s=0.05,
                          backoff_max_s=0.5, timeout_s=600)


def items():
    for n in range(count):
        record = SourceRecord(id=f"img_{n:07d}", split="train", emotion="awe", image_path=f"/data/img_{n:07d}.jpg",
                              annotation_path="", brightness=0.6, colorfulness=0.4, scene="mountain",
                              objects=("sky", "rock"))
        yield GenerationItem(record, f"a wide mountain valley under a clear sky item=b{n}", "conversation")


start = time.perf_counter()
run = OpenAIBatchGenerator("gpt-4o-mini", config).prepare(items(), progress=False)
print(json.dumps({"batches": len(run.batches),
                  "sent": run.requests_sent, "answered": run.answered, "seconds": time.perf_counter() - start}))
"""


def test_batch_peak_memory_is_flat(tmp_path):
    sizes = {"small": scaled(20_000), "large": scaled(200_000)}
    peaks, runs = {}, {}
    for name, count in sizes.items():
        (tmp_path / f"server-{name}").mkdir()
        with FakeBatchServer(folder=tmp_path / f"server-{name}", keep_bodies=False) as server:
            printed, peaks[name] = measured_run(_MEASURE, count, server.base_url, tmp_path / f"cache-{name}")
            runs[name] = json.loads(printed[-1])
            uploads = [u["bytes"] for u in server.uploads]
        assert runs[name]["sent"] == runs[name]["answered"] == count
        assert max(uploads) <= 200_000_000 and sum(u for u in uploads) > count * 1000
        print(f"\n{count:,} requests: {len(uploads)} file(s), {sum(uploads) / 1e6:,.0f} MB uploaded, "
              f"{runs[name]['seconds']:.0f} s, peak RSS {peaks[name]:.0f} MiB")
    ratio = peaks["large"] / peaks["small"]
    print(f"peak RSS ratio {sizes['large']:,} / {sizes['small']:,} requests: {ratio:.2f}")
    assert ratio <= 1.3


def test_request_file_throughput(benchmark, tmp_path):
    from builder.generation import GenerationConfig, GenerationItem
    from builder.generation.batch_state import BatchState, RequestFiles, request_line
    from builder.generation.openai_batch import OpenAIBatchGenerator
    from builder.sources.records import SourceRecord

    count = scaled(20_000)
    generator = OpenAIBatchGenerator("gpt-4o-mini", GenerationConfig(cache_dir=str(tmp_path / "cache")))
    record = SourceRecord(id="img", split="train", emotion="awe", image_path="/data/img.jpg", annotation_path="",
                          brightness=0.6, colorfulness=0.4, scene="mountain", objects=("sky", "rock"))
    rounds = iter(range(100))

    def write_files() -> int:
        number = next(rounds)
        state = BatchState(tmp_path / f"state-{number}.sqlite")
        writer = RequestFiles(tmp_path / f"files-{number}", "bench")
        writer.open()
        for n in range(count):
            _, messages, key = generator._prepared(GenerationItem(record, f"caption {n}", "conversation"))
            line = request_line(key, generator.body(messages), "/v1/chat/completions")
            if not writer.fits(line):
                writer.close()
                writer.open()
            writer.add(line)
            state.write(key, f"img-{n}", "api.openai.com/v1", str(writer.path), 0)
        writer.close()
        state.close()
        return count

    start = time.perf_counter()
    benchmark.pedantic(write_files, rounds=3, iterations=1)
    median = benchmark.stats.stats.median if benchmark.stats else (time.perf_counter() - start)
    rate = count / median
    benchmark.extra_info.update({"requests": count, "requests_per_s": round(rate)})
    print(f"\nrequest files: {count:,} requests in {median:.2f} s ({rate:,.0f} requests/s)")
