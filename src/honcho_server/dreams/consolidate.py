"""Turning a dream's answers into checked changes to one collection. Pure.

The model only ever sees short ids (``c1``…) for the conclusions it was shown, and only those
can be cited or removed. What survives the checks:

* **updates** (knowledge updates): ``outdated`` is marked superseded by ``current`` when
  ``current`` is at least as new (the newer fact wins): kept, linked to its replacement, and
  left out of default reads from then on; a pair pointing the other way is ignored.
* **duplicates**: a group of two or more shown conclusions of the same level (each in one
  group at most; later groups lose members already grouped) collapses into the most
  specific one (:func:`..deriver.dedupe.specificity` against the rest of the group;
  a tie keeps the newest). The keeper's ``times_derived`` becomes the group's sum, its
  ``source_message_ids`` the union, and the removed rows' ids and texts are kept in its
  internal metadata (``merged_from``). Nothing cited is lost: premises and sources are
  stored as texts, and ids cited in this dream are mapped to the keeper.
* **deductions**: kept only when every premise is a shown id (at least one); stored as
  ``deductive`` with the premises' texts and ids.
* **contradictions**: two or more shown ids → a ``contradiction`` conclusion with their
  texts as sources.
* **patterns** (induction): two or more distinct shown ids, all known → ``inductive`` with
  ``pattern_type`` and ``confidence`` normalised.

An answer citing an id that was not shown is dropped whole (an invented id means the model
lost track of what it was given).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..deriver.dedupe import specificity
from ..deriver.prompts import normalise_card
from .prompts import DeductionAnswer, InductionAnswer, PromptItem

CONFIDENCES = ("high", "medium", "low")
DEFAULT_PATTERN_TYPE = "pattern"
_PATTERN_TYPE = re.compile(r"[a-z][a-z _-]{0,39}")


@dataclass(frozen=True)
class Known:
    """A stored conclusion shown to the model as ``ref``."""

    ref: str
    id: str
    level: str
    content: str
    at: datetime
    times_derived: int = 1
    source_message_ids: tuple[str, ...] = ()

    def item(self) -> PromptItem:
        return PromptItem(self.ref, self.level, self.content, self.at)


@dataclass(frozen=True)
class NewConclusion:
    """A conclusion the dream creates (its id is chosen here so later stages can cite it)."""

    id: str
    level: str
    content: str
    premises: tuple[str, ...] = ()  # texts (deductive)
    premise_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # texts (inductive, contradiction)
    source_ids: tuple[str, ...] = ()
    pattern_type: str | None = None
    confidence: str | None = None


@dataclass(frozen=True)
class Merge:
    keep: str
    drop: tuple[str, ...]
    times_derived: int
    source_message_ids: tuple[str, ...]
    merged_from: tuple[tuple[str, str], ...]  # (id, content) of the removed rows


@dataclass
class DeductionPlan:
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (outdated, current)
    merges: list[Merge] = field(default_factory=list)
    new: list[NewConclusion] = field(default_factory=list)
    card: list[str] | None = None  # None: leave the card alone
    remaining: list[Known] = field(default_factory=list)  # what is still live afterwards

    @property
    def deleted(self) -> list[str]:
        return [d for m in self.merges for d in m.drop]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _keeper(group: Sequence[Known], tokens: Callable[[str], set[str]]) -> Known:
    def score(k: Known) -> tuple[int, datetime, str]:
        others: set[str] = set()
        for o in group:
            if o is not k:
                others |= tokens(o.content)
        return (specificity(tokens(k.content), others), k.at, k.id)

    return max(group, key=score)


def _merges(
    answer: DeductionAnswer,
    shown: dict[str, Known],
    gone: set[str],
    tokens: Callable[[str], set[str]],
) -> list[Merge]:
    out: list[Merge] = []
    used: set[str] = set()  # a conclusion joins one group at most
    for dup in answer.duplicates:
        refs = list(dict.fromkeys(r.strip() for r in dup.ids))
        if any(r not in shown for r in refs):
            continue
        group = [shown[r] for r in refs if shown[r].id not in gone and shown[r].id not in used]
        if len(group) < 2 or len({k.level for k in group}) != 1:
            continue
        keep = _keeper(group, tokens)
        drop = [k for k in group if k is not keep]
        gone.update(k.id for k in drop)
        used.add(keep.id)
        out.append(
            Merge(
                keep=keep.id,
                drop=tuple(k.id for k in drop),
                times_derived=sum(k.times_derived for k in group),
                source_message_ids=tuple(
                    dict.fromkeys(s for k in [keep, *drop] for s in k.source_message_ids)
                ),
                merged_from=tuple((k.id, k.content) for k in drop),
            )
        )
    return out


def plan_deduction(
    known: Sequence[Known],
    answer: DeductionAnswer,
    *,
    card_allowed: bool,
    new_id: Callable[[], str],
    tokens: Callable[[str], set[str]] = _words,
) -> DeductionPlan:
    shown = {k.ref: k for k in known}
    plan = DeductionPlan()
    gone: set[str] = set()
    for up in answer.updates:
        old, cur = shown.get(up.outdated.strip()), shown.get(up.current.strip())
        if old is None or cur is None or old is cur or old.id in gone or cur.id in gone:
            continue
        if cur.at >= old.at:
            plan.superseded.append((old.id, cur.id))
            gone.add(old.id)
    plan.merges = _merges(answer, shown, gone, tokens)
    kept_as = {d: m.keep for m in plan.merges for d in m.drop}
    plan.superseded = [(old, kept_as.get(cur, cur)) for old, cur in plan.superseded]
    texts: set[str] = set()
    for d in answer.deductions:
        refs = list(dict.fromkeys(r.strip() for r in d.premises))
        content = d.conclusion.strip()
        if not content or not refs or any(r not in shown for r in refs):
            continue
        if content.lower() in texts:
            continue
        texts.add(content.lower())
        plan.new.append(
            NewConclusion(
                id=new_id(),
                level="deductive",
                content=content,
                premises=tuple(shown[r].content for r in refs),
                premise_ids=tuple(
                    dict.fromkeys(kept_as.get(shown[r].id, shown[r].id) for r in refs)
                ),
            )
        )
    for c in answer.contradictions:
        refs = list(dict.fromkeys(r.strip() for r in c.ids))
        content = c.statement.strip()
        if not content or len(refs) < 2 or any(r not in shown for r in refs):
            continue
        plan.new.append(
            NewConclusion(
                id=new_id(),
                level="contradiction",
                content=content,
                sources=tuple(shown[r].content for r in refs),
                source_ids=tuple(shown[r].id for r in refs),
            )
        )
    if card_allowed and answer.peer_card is not None:
        plan.card = normalise_card(answer.peer_card) or None
    plan.remaining = [k for k in known if k.id not in gone]
    return plan


def after_deduction(plan: DeductionPlan, at: datetime) -> list[Known]:
    """The collection as induction sees it: what remains, then the new conclusions (all
    with fresh short ids, oldest first)."""
    rows = [(k.id, k.level, k.content, k.at) for k in plan.remaining]
    rows += [(n.id, n.level, n.content, at) for n in plan.new]
    return [
        Known(f"c{i}", id_, lvl, text, when) for i, (id_, lvl, text, when) in enumerate(rows, 1)
    ]


def _pattern_type(value: str) -> str:
    v = " ".join(value.strip().lower().split())
    return v if _PATTERN_TYPE.fullmatch(v) else DEFAULT_PATTERN_TYPE


def _confidence(value: str) -> str:
    v = value.strip().lower()
    return v if v in CONFIDENCES else "medium"


def plan_induction(
    known: Sequence[Known], answer: InductionAnswer, *, new_id: Callable[[], str]
) -> list[NewConclusion]:
    shown = {k.ref: k for k in known}
    out: list[NewConclusion] = []
    texts: set[str] = set()
    for p in answer.patterns:
        refs = list(dict.fromkeys(r.strip() for r in p.sources))
        content = p.pattern.strip()
        if not content or len(refs) < 2 or any(r not in shown for r in refs):
            continue
        if content.lower() in texts:
            continue
        texts.add(content.lower())
        out.append(
            NewConclusion(
                id=new_id(),
                level="inductive",
                content=content,
                sources=tuple(shown[r].content for r in refs),
                source_ids=tuple(shown[r].id for r in refs),
                pattern_type=_pattern_type(p.pattern_type),
                confidence=_confidence(p.confidence),
            )
        )
    return out
