"""Remove a reasoning model's thinking from its answer, whole or while it streams.

Local reasoning models (DeepSeek-R1, Qwen3, QwQ, …) write their thinking into the answer
between ``<think>`` and ``</think>``; some chat templates put the opening tag in the prompt,
so only ``</think>`` shows up; gpt-oss writes harmony channels. Servers with a reasoning
parser move the thinking out of ``content`` themselves; for the rest, this does.
"""

from __future__ import annotations

import re

_TAGS = ("think", "thinking", "reasoning", "thought", "reflection")
_NAMES = "|".join(_TAGS)
_BLOCK = re.compile(rf"<({_NAMES})\b[^>]*>.*?</\1\s*>", re.S | re.I)
_CLOSE = re.compile(rf"</(?:{_NAMES})\s*>", re.I)
_OPEN = re.compile(rf"<(?:{_NAMES})\b[^>]*>", re.I)
_HARMONY_FINAL = re.compile(r"<\|channel\|>\s*final\s*<\|message\|>", re.I)
_HARMONY_END = re.compile(r"<\|(?:end|return|call)\|>.*\Z", re.S)


def strip_reasoning(text: str) -> str:
    """``text`` without thinking, stripped of surrounding whitespace.

    Removes ``<think>…</think>`` blocks (and ``thinking``/``reasoning``/``thought``/
    ``reflection``), everything up to a closing tag whose opening tag was never written, and
    everything after an opening tag that was never closed (the model ran out of tokens while
    thinking: there is no answer). Of a gpt-oss harmony transcript, keeps the final channel.
    """
    finals = list(_HARMONY_FINAL.finditer(text))
    if finals:
        text = _HARMONY_END.sub("", text[finals[-1].end() :])
    text = _BLOCK.sub("", text)
    closes = list(_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    return text.strip()


class ThinkFilter:
    """Streaming :func:`strip_reasoning` for ``<think>``-style blocks: feed pieces as they
    arrive, get back the answer's pieces (possibly empty), then :meth:`flush` at the end.

    A tag split across pieces is recognised; text that might still become a tag is held
    back until the next piece decides it. Whitespace right after a block is dropped.
    """

    _OPENERS = tuple(f"<{tag}>" for tag in _TAGS)

    def __init__(self) -> None:
        self._buffer = ""
        self._closer: str | None = None  # set while inside a block
        self._trim = True  # drop leading whitespace (start of answer, or after a block)

    def feed(self, piece: str) -> str:
        self._buffer += piece
        out: list[str] = []
        while self._buffer:
            if self._closer is not None:
                if not self._skip_block():
                    break
                continue
            lower = self._buffer.lower()
            start = lower.find("<")
            if start == -1:
                out.append(self._take(len(self._buffer)))
                continue
            out.append(self._take(start))
            lower = self._buffer.lower()
            opener = next((o for o in self._OPENERS if lower.startswith(o)), None)
            if opener is not None:
                self._buffer = self._buffer[len(opener) :]
                self._closer = "</" + opener[1:]
            elif any(o.startswith(lower) for o in self._OPENERS):
                break  # maybe the start of a tag: wait for more
            else:
                out.append(self._take(1))
        return "".join(out)

    def flush(self) -> str:
        """What is still held back (nothing when the stream ended inside a block)."""
        rest = "" if self._closer is not None else self._take(len(self._buffer))
        self._buffer = ""
        return rest

    def _skip_block(self) -> bool:
        assert self._closer is not None
        end = self._buffer.lower().find(self._closer)
        if end == -1:
            keep = len(self._closer) - 1  # a closing tag may be split across pieces
            self._buffer = self._buffer[-keep:] if len(self._buffer) > keep else self._buffer
            return False
        self._buffer = self._buffer[end + len(self._closer) :]
        self._closer = None
        self._trim = True
        return True

    def _take(self, length: int) -> str:
        taken, self._buffer = self._buffer[:length], self._buffer[length:]
        if self._trim:
            taken = taken.lstrip()
            self._trim = not taken
        return taken
