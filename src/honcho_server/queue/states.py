"""The job state machine, written down once. Every statement in :mod:`.repository` that
changes ``jobs.status`` implements one row of :data:`TRANSITIONS`; nothing else writes it.

States:

- ``todo``: waiting to run (from ``scheduled_at`` on). At most one ``todo`` job per
  ``dedupe_key`` (a partial unique index), so a burst of messages is one pending job per
  work unit.
- ``doing``: claimed by a live worker, which heartbeats it. At most one ``doing`` job per
  ``lock_key`` (a partial unique index), so a work unit runs one job at a time.
- ``succeeded``: done; purged after a while.
- ``failed``: its last attempt failed; kept with its error (and the model's unusable answer,
  if that was the reason) until an operator retries it.
- ``superseded``: it had to go back to ``todo`` while a twin (same ``dedupe_key``) was
  already waiting there. Its handler reads the current state when it runs, so the twin does
  all of its work: putting both back would break the one-``todo``-per-key rule, and that is
  exactly the bug that once stranded jobs in ``doing`` forever. Terminal.

Events, and who raises them:

- ``claim``: a worker lane takes the oldest due job whose lock is free and whose dependency
  (LLM, embedder) this worker has and believes up — with it, for a kind claimed in batches
  (message embeddings), up to ``batch`` more due first-attempt jobs of that kind; a job tried
  before is claimed alone. Each job of a batch is its own row in every transition after.
- ``succeed``: the handler returned (its last writes commit with this transition; a batch's
  jobs in one statement).
- ``fail``: the handler raised something that is the job's own fault (a bad model answer,
  a bug, a webhook receiver answering 500): one attempt is spent; back to ``todo`` after a
  backoff, or ``failed`` when it was the last one.
- ``wait``: a dependency is down or missing (LLM or embedder unreachable, timing out,
  answering 429/5xx; no LLM configured): the attempt is given back and the job goes back to
  ``todo`` untouched; the worker's circuit breaker, not the job, decides when to try again.
- ``release``: the worker is shutting down and the grace period ran out: like ``wait``.
- ``stale``: the job's heartbeat stopped (its worker died). Handled one job at a time, so one
  odd row can never block the recovery of the others. The attempt counts (a job that kills
  its worker must not loop forever).
- ``retry``: an operator asks (``honcho-server retry``): fresh attempts.
- ``cancel``: the data the job is about was deleted (the purge removes its pending jobs).

Every "back to ``todo``" above becomes ``superseded`` when a twin already waits; each is one
statement, re-run if a twin commits at the same instant (the unique index then names the
twin, and the second run supersedes).
"""

from __future__ import annotations

from typing import Literal

State = Literal["todo", "doing", "succeeded", "failed", "superseded"]
Event = Literal[
    "enqueue", "claim", "succeed", "fail", "wait", "release", "stale", "retry", "cancel"
]

TERMINAL: frozenset[State] = frozenset({"succeeded", "superseded"})
#: The states an operator's ``retry`` takes jobs out of.
RETRYABLE: frozenset[State] = frozenset({"failed", "superseded"})

#: (state, event) → the states it may lead to. "gone" means the row is deleted.
TRANSITIONS: dict[tuple[State | None, Event], tuple[State | Literal["gone"], ...]] = {
    (None, "enqueue"): ("todo",),  # or nothing, when a twin already waits (ON CONFLICT)
    ("todo", "claim"): ("doing",),
    ("todo", "cancel"): ("gone",),
    ("doing", "succeed"): ("succeeded",),
    ("doing", "fail"): ("todo", "failed", "superseded"),
    ("doing", "wait"): ("todo", "superseded"),
    ("doing", "release"): ("todo", "superseded"),
    ("doing", "stale"): ("todo", "failed", "superseded"),
    ("failed", "retry"): ("todo", "superseded"),
    ("failed", "cancel"): ("gone",),
    ("superseded", "retry"): ("todo", "superseded"),
}


def allowed(state: State | None, event: Event) -> tuple[State | Literal["gone"], ...]:
    """The states ``event`` may lead to from ``state`` (empty: the event does not apply)."""
    return TRANSITIONS.get((state, event), ())
