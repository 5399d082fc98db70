"""The default embedder: all-MiniLM-L6-v2 (int8 ONNX) on the CPU, with no key and no network.

Sentence-transformers' recipe: WordPiece tokens (at most 256 with ``[CLS]``/``[SEP]``), the
transformer's last hidden state, a mean over the real (unpadded) tokens, then L2 normalisation.
Inference runs on one dedicated thread per embedder, so the event loop never waits for it and
concurrent callers queue instead of fighting over the CPU. Foreground calls (a search query, a
chat question: someone is waiting) have a thread of their own at normal priority;
``background=True`` work (the worker's jobs) is cut into pieces of :data:`BULK_PIECE` texts and
run by ``threads`` background threads at the lowest CPU priority (Linux ``SCHED_IDLE``). Each
inference runs on the thread that asked for it (onnxruntime with one intra-op thread), so the
priorities hold: a backlog of message embeddings neither delays a query nor slows the API and
Postgres down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]
from tokenizers import Tokenizer

from ..observability import metrics
from .model_file import default_model_path, verify_model_file
from .protocol import Span

log = logging.getLogger("honcho_server.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
MAX_SEQUENCE = 256  # tokens, [CLS] and [SEP] included (sentence-transformers' max_seq_length)
# Inference memory grows with batch size times length squared. A batch stays within the cells of
# 32 texts of 96 tokens (about 150 MB of working memory): 32 texts of 90 tokens, 4 of 256.
MAX_ATTENTION_CELLS = 32 * 96 * 96
BULK_PIECE = 16
# Background threads run under Linux's SCHED_IDLE policy: they take the CPU only when the API
# and Postgres leave it idle, and a woken request thread or Postgres backend takes it back at
# once. At nice 10 alone they still held a core until their slice ended: a 16-client ingest
# with embeddings on ran at 440-466 req/s (p99 84-124 ms) against 561-577 (61-63 ms) with
# SCHED_IDLE. A backlog waits for idle CPU instead, as the worker's queue lets it. The nice
# value stays too: ``top`` and ``bench/load.py`` tell these threads apart by it.
BACKGROUND_NICE = 10

_Work = Callable[[list[str]], list[list[float]]]
_Item = tuple[_Work, list[str], "Future[list[list[float]]]"] | None


class InferenceThreads:
    """Threads taking submitted work in FIFO order; ``nice`` lowers their CPU priority.

    With ``combine``, a thread that finds more work queued behind the item it took (callers
    that came while it was busy) runs it in the same call, up to ``combine`` texts: searches
    of new texts arriving together cost one run of the model, not one each in a row (16
    clients starting on 4 new queries: 4 runs back to back, 20-35 ms each on a busy machine,
    while every request in flight waited for the CPU; their p99 was set by that start)."""

    def __init__(self, name: str, count: int, nice: int = 0, combine: int = 0) -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, args=(nice,), name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        self._combine = combine
        self._start = threading.Lock()
        self._started = self._stopped = False

    def submit(self, work: _Work, texts: list[str]) -> Future[list[list[float]]]:
        with self._start:
            if not self._started:
                self._started = True
                for thread in self._threads:
                    thread.start()
        future: Future[list[list[float]]] = Future()
        self._queue.put((work, texts, future))
        return future

    def stop(self) -> None:
        """Cancel what is queued; pieces in progress finish."""
        self._stopped = True
        for _ in self._threads:
            self._queue.put(None)

    def _run(self, nice: int) -> None:
        if nice:
            _lower_priority(nice)
        item = self._queue.get()
        while item is not None:
            work, texts, future = item
            batch = [(texts, future)] if self._take(future) else []
            size, fetch = len(texts), True
            while self._combine and not self._stopped:  # what queued meanwhile, in order
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None or more[0] != work or size + len(more[1]) > self._combine:
                    item, fetch = more, False  # next (None: stop after this batch)
                    break
                if self._take(more[2]):
                    batch.append((more[1], more[2]))
                    size += len(more[1])
            if batch:
                _run_batch(work, batch)
            if fetch:
                item = self._queue.get()

    def _take(self, future: Future[list[list[float]]]) -> bool:
        """Whether to run a caller's work (not when it was cancelled, or threads stop)."""
        if self._stopped or not future.set_running_or_notify_cancel():
            future.cancel()
            return False
        return True


def _run_batch(work: _Work, batch: list[tuple[list[str], Future[list[list[float]]]]]) -> None:
    """One call of ``work`` for every caller's texts; each gets its own vectors back. If it
    fails, each caller's texts are run alone, so one caller's failure is not the others'.
    Nothing escapes: the thread lives on, and every caller gets a result or an error."""
    if len(batch) > 1:
        try:
            vectors = work([text for texts, _ in batch for text in texts])
        except Exception:
            log.warning(
                "a combined embedding run failed; each caller's texts run alone", exc_info=True
            )
        except BaseException as exc:  # not the texts' fault: every caller gets it
            for _, future in batch:
                future.set_exception(exc)
            return
        else:
            start = 0
            for texts, future in batch:
                future.set_result(vectors[start : start + len(texts)])
                start += len(texts)
            return
    for texts, future in batch:
        try:
            future.set_result(work(texts))
        except BaseException as exc:  # handed to the awaiting caller
            future.set_exception(exc)


def _lower_priority(nice: int) -> None:
    """This thread to ``nice`` and ``SCHED_IDLE`` (Linux: per thread; neither needs a
    privilege). Best effort elsewhere."""
    thread = threading.get_native_id()
    with contextlib.suppress(AttributeError, OSError):  # not Linux: equal priority
        os.setpriority(os.PRIO_PROCESS, thread, nice)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))


def load_tokenizer() -> Tokenizer:
    """The vendored WordPiece tokenizer, without the file's truncation and padding."""
    data = resources.files("honcho_server.embeddings").joinpath("data")
    text = data.joinpath("tokenizer.json").read_text("utf-8")
    tokenizer = Tokenizer.from_str(text)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class LocalEmbedder:
    """:class:`~honcho_server.embeddings.Embedder` backed by onnxruntime.

    The model file is hash-checked and loaded on first use (or by :meth:`load`).
    """

    name = MODEL_NAME
    dimensions = DIMENSIONS
    max_input_tokens = MAX_SEQUENCE - 2

    def __init__(
        self, *, threads: int = 2, batch_size: int = 32, model_path: Path | None = None
    ) -> None:
        self._batch_size = batch_size
        self._model_path = model_path
        self._tokenizer = load_tokenizer()
        self._session: Any = None
        self._lock = threading.Lock()
        self._foreground = InferenceThreads("honcho-embed", 1, combine=batch_size)
        self._background = InferenceThreads("honcho-embed-bulk", threads, nice=BACKGROUND_NICE)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def token_spans(self, text: str) -> list[Span]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    @metrics.embedding_call
    async def embed(self, texts: Sequence[str], *, background: bool = False) -> list[list[float]]:
        if any(not text for text in texts):
            raise ValueError("cannot embed an empty text")
        if not texts:
            return []
        threads = self._background if background else self._foreground
        pieces = [list(texts[i : i + BULK_PIECE]) for i in range(0, len(texts), BULK_PIECE)]
        done = await asyncio.gather(
            *(asyncio.wrap_future(threads.submit(self.embed_sync, piece)) for piece in pieces)
        )
        return [vector for piece in done for vector in piece]

    async def aclose(self) -> None:
        self._foreground.stop()
        self._background.stop()

    def load(self) -> None:
        """Check the model file's hash and start the inference session (blocking; idempotent)."""
        with self._lock:
            if self._session is None:
                self._session = self._create_session()

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """:meth:`embed` on the calling thread (blocks it for the whole batch)."""
        self.load()
        ids = [self._input_ids(text) for text in texts]
        vectors = np.empty((len(ids), DIMENSIONS), dtype=np.float32)
        for batch in self._batches(ids):
            vectors[batch] = self._run([ids[i] for i in batch])
        result: list[list[float]] = vectors.tolist()
        return result

    def _batches(self, ids: list[list[int]]) -> list[list[int]]:
        """Indices of ``ids`` grouped shortest first (little padding), within both limits."""
        batches: list[list[int]] = []
        for i in sorted(range(len(ids)), key=lambda i: len(ids[i])):
            width = len(ids[i])  # the longest so far: the batch's padded width
            size = len(batches[-1]) + 1 if batches else 0
            if 0 < size <= self._batch_size and size * width * width <= MAX_ATTENTION_CELLS:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _create_session(self) -> Any:
        path = self._model_path or default_model_path()
        verify_model_file(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallelism comes from the calling threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads would otherwise spin on the CPU the API and Postgres need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _input_ids(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text).ids  # [CLS] … [SEP]
        return ids if len(ids) <= MAX_SEQUENCE else [*ids[: MAX_SEQUENCE - 1], ids[-1]]

    def _run(self, batch: list[list[int]]) -> npt.NDArray[np.float32]:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return mean_pool_normalised(np.asarray(hidden, dtype=np.float32), mask)


def mean_pool_normalised(
    hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Mean of each row's unmasked token vectors, scaled to unit length."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    means = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    pooled: npt.NDArray[np.float32] = means / np.clip(norms, 1e-12, None)
    return pooled
