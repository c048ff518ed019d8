"""Reads of audit history: an object's events with their diffs, and an object as of a moment.

Per object, pgh_id is the order of its changes: the triggers draw it from a sequence after the
row is locked, so a later change of the same row always has a greater id. Every read here is
served by the event table's (pgh_obj_id, pgh_id DESC) index.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models

from audit.models import EVENT_MODELS, AuditEvent

HISTORY_PAGE_SIZE = 50
# Columns every change touches (the trigger-bumped version, the touch trigger's updated_at):
# left out of the changes shown, which are what someone changed. The "as of" view keeps them.
NOISE = frozenset({"version", "updated_at"})
# An object's parts' events read with it (an order's items): at most this many per page.
PART_EVENTS_LIMIT = 200


def event_model_for(model: type[models.Model]) -> type[AuditEvent] | None:
    """The event model tracking `model`, or None when it is not tracked."""
    for event_model in EVENT_MODELS:
        if event_model.pgh_tracked_model is model._meta.concrete_model:
            return event_model
    return None


def tracked_fields(event_model: type[AuditEvent]) -> list[models.Field]:
    """The tracked model's fields that its events copy, in the model's order."""
    copied = {f.name for f in event_model._meta.fields}
    return [f for f in event_model.pgh_tracked_model._meta.fields if f.name in copied]


@dataclass(frozen=True)
class Change:
    field: str  # the field's verbose name
    old: Any  # None when there is no earlier event (insert, or history pruned)
    new: Any  # None for a delete
    # What the value is (a foreign key's value is an id); not part of the change's identity.
    model_field: models.Field | None = field(default=None, compare=False, repr=False)


@dataclass
class HistoryEntry:
    event: AuditEvent
    changes: list[Change] = field(default_factory=list)
    username: str | None = None  # the context's user, filled in by with_usernames()
    part: models.Model | None = None  # set on a part's event (an order's item): its model

    @property
    def context(self) -> dict:
        return self.event.pgh_context or {}


@dataclass
class HistoryPage:
    entries: list[HistoryEntry]
    older: int | None  # the `before` of the next (older) page, None on the last page


def _values(event: AuditEvent, fields: list[models.Field]) -> dict[str, Any]:
    return {f.attname: getattr(event, f.attname) for f in fields}


def _entries(events: list[AuditEvent], fields: list[models.Field], shown: int) -> list:
    """The first `shown` of one object's events (newest first), each diffed against the next."""
    entries = []
    for event, previous in zip(events[:shown], [*events[1:], None], strict=False):
        new = _values(event, fields)
        old = _values(previous, fields) if previous is not None else {}
        if event.pgh_label == "delete":
            changes = [Change(f.verbose_name, new[f.attname], None, f) for f in fields]
        else:
            changes = [
                Change(f.verbose_name, old.get(f.attname), new[f.attname], f)
                for f in fields
                if f.name not in NOISE and (not old or old[f.attname] != new[f.attname])
            ]
        entries.append(HistoryEntry(event=event, changes=changes))
    return entries


def object_history(
    *,
    model: type[models.Model],
    pk: Any,
    before: int | None = None,
    limit: int = HISTORY_PAGE_SIZE,
    parts: dict[type[models.Model], str] | None = None,
) -> HistoryPage:
    """`model` row `pk`'s events, newest first, each with what it changed. One query, and one
    more per part.

    Keyset pages: `before` is an event id; the page holds the `limit` events older than it.
    One more event is read than shown: the baseline the oldest shown event is diffed against.

    parts: {part model: its foreign key to `model`}, e.g. {OrderItem: "order"}: the events of
    the rows that are part of this one (the current ones: a part deleted since is not found)
    are merged in, in the same window of event ids (one sequence numbers every event table),
    each diffed against its own previous event.
    """
    event_model = event_model_for(model)
    fields = tracked_fields(event_model)
    events = event_model.objects.filter(pgh_obj_id=pk)
    if before is not None:
        events = events.filter(pgh_id__lt=before)
    events = list(events.order_by("-pgh_id")[: limit + 1])
    shown, baseline = events[:limit], events[limit:]
    entries = _entries(events, fields, limit)
    older = shown[-1].pgh_id if baseline else None

    for part_model, foreign_key in (parts or {}).items():
        part_events_model = event_model_for(part_model)
        part_fields = tracked_fields(part_events_model)
        part_ids = part_model._default_manager.filter(**{foreign_key: pk}).values("pk")
        part_events = part_events_model.objects.filter(pgh_obj_id__in=part_ids)
        if before is not None:
            part_events = part_events.filter(pgh_id__lt=before)
        by_part: dict[Any, list[AuditEvent]] = {}
        for event in part_events.order_by("-pgh_id")[:PART_EVENTS_LIMIT]:
            by_part.setdefault(event.pgh_obj_id, []).append(event)
        for part_list in by_part.values():
            in_window = sum(1 for e in part_list if older is None or e.pgh_id > older)
            for entry in _entries(part_list, part_fields, in_window):
                entry.part = part_model
                entries.append(entry)
    entries.sort(key=lambda entry: entry.event.pgh_id, reverse=True)
    return HistoryPage(entries=entries, older=older)


def object_as_of(*, model: type[models.Model], pk: Any, at: datetime) -> dict[str, Any] | None:
    """`model` row `pk`'s field values (attname: value) as of `at`; None if it did not exist.

    "As of" is when each change was written (the trigger's clock_timestamp()), not when its
    transaction committed. A row that predates its table's history has no insert event and
    reads as not existing before its first recorded change. One query.
    """
    event_model = event_model_for(model)
    event = (
        event_model.objects.filter(pgh_obj_id=pk, pgh_created_at__lte=at)
        .order_by("-pgh_id")
        .first()
    )
    if event is None or event.pgh_label == "delete":
        return None
    return _values(event, tracked_fields(event_model))


def with_usernames(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Sets each entry's username from its context's user id. One query (none if no users)."""
    ids = {e.context.get("user") for e in entries}
    ids = {i for i in ids if isinstance(i, int)}
    names = (
        dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
        if ids
        else {}
    )
    for entry in entries:
        entry.username = names.get(entry.context.get("user"))
    return entries
