"""Events → messages: one message per event, a summary when many arrive at once, a rate limit.

The limit is a sliding window (at most ``max_messages`` per ``window_seconds``). Events that find the
window full wait in a backlog and go out together, as one summary, when the window has room again: a
flood of failures (a vendor down for an hour) becomes a handful of messages, and no event is dropped
silently. Delivery failures are logged (with the target's name, never its URL or secret) and do not
stop the other targets or the daemon.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.logging import get_logger
from bridge.notify.detect import ERROR, RECOVERED, STALE, Event

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """What a target receives: a subject line, a plain-text body and the events it covers."""

    subject: str
    text: str
    events: tuple[Event, ...]
    summary: bool


class Sender(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


def _line(event: Event) -> str:
    text = f"{event.title}: {event.detail}" if event.detail else event.title
    if event.action:
        text += f"\n  → run: {event.action}"
    return text


def single(event: Event) -> Message:
    return Message(subject=f"[bridge] {event.title}", text=_line(event), events=(event,), summary=False)


def summary(events: Sequence[Event]) -> Message:
    counts = {kind: sum(1 for e in events if e.kind == kind) for kind in (ERROR, STALE, RECOVERED)}
    parts = [f"{n} {label}" for kind, n in counts.items() if n for label in [_LABELS[kind]]]
    head = f"[bridge] {len(events)} events: " + ", ".join(parts)
    body = "\n".join(_line(e) for e in events)
    if counts[ERROR]:
        body += "\n\nAfter fixing the cause: bridge retry --all  (or one by one, see bridge errors)"
    return Message(subject=head, text=body, events=tuple(events), summary=True)


_LABELS = {ERROR: "new error(s)", STALE: "stale mapping(s)", RECOVERED: "recovered mapping(s)"}


class Dispatcher:
    """Turns event batches into messages within the rate limit and hands them to every sender."""

    def __init__(
        self,
        senders: Sequence[Sender],
        *,
        summary_after: int = 3,
        max_messages: int = 10,
        window_seconds: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.senders = list(senders)
        self.summary_after = summary_after
        self.max_messages = max_messages
        self.window = window_seconds
        self.clock = clock
        self.backlog: list[Event] = []
        self._sent: deque[float] = deque()
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _room(self) -> int:
        now = self.clock()
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        return self.max_messages - len(self._sent)

    def plan(self, events: Sequence[Event]) -> list[Message]:
        """The messages to send now for ``events`` (plus any backlog); the rest stays in the backlog."""
        with self._lock:
            held = bool(self.backlog)  # events that already waited for the window go out as a summary
            for event in events:
                ident = (event.key, event.at.isoformat())
                if ident not in self._seen:  # the same event handed over twice: one message
                    self._seen.add(ident)
                    self.backlog.append(event)
            room = self._room()
            if not self.backlog or room <= 0:
                return []
            pending, self.backlog = self.backlog, []
            if held or len(pending) > self.summary_after or len(pending) > room:
                messages = [summary(pending)]
            else:
                messages = [single(e) for e in pending]
            now = self.clock()
            self._sent.extend(now for _ in messages)
            return messages

    def dispatch(self, events: Sequence[Event]) -> list[Message]:
        """Plan and deliver; returns what was sent (to at least an attempt at every sender)."""
        messages = self.plan(events)
        for message in messages:
            for sender in self.senders:
                try:
                    sender.send(message)
                except Exception as exc:  # a broken target must not stop the others or the daemon
                    log.warning(
                        "notification not delivered",
                        target=sender.name,
                        error_type=type(exc).__name__,
                        error=_safe(str(exc)),
                    )
                else:
                    log.info(
                        "notification sent", target=sender.name, subject=message.subject, events=len(message.events)
                    )
        return messages


def _safe(text: str) -> str:
    """First line only, bounded: exceptions from HTTP libraries may quote a URL (the log redaction
    removes registered secrets as well)."""
    return text.splitlines()[0][:200] if text else ""
