"""Staff UI for audit history: each object's History page, and the audit log of every change.

object_history is the History page of every admin with core.admin.HistoryAdminMixin (the
"History" button on every change form, which showed only the admin's LogEntry rows): the
trigger-recorded history, every
change, whoever made it, newest first, field by field, and the object as it was at a moment.
It also answers for deleted objects: their history outlives them.

The audit log (AuditLog, the view audit_log) stays fast with millions of events: each filter
is served by an index of every event table (see audit/models.py), the page is a merge of those
index scans, and its count is capped (AuditLogPaginator: exact up to 10,000 events, "10,000+"
past that) instead of a COUNT(*) of everything.
"""

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html

from audit import selectors
from audit.models import EVENT_MODELS, AuditLog
from core.admin import (
    CappedCountAdminMixin,
    CappedCountPaginator,
    ReadOnlyMixin,
    history_page,
)


def _parse_moment(value: str) -> datetime | None:
    """An ISO date-time (naive ones are in the current time zone), or None if it is not one."""
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _parse_event_id(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


HISTORY_TEMPLATE = "admin/audit/object_history.html"
SECONDS = "Y-m-d H:i:s T"  # how the history pages write a moment: to the second


def moment_text(value: datetime) -> str:
    return date_format(timezone.localtime(value), SECONDS)


def related_names(entries, *, skip: tuple[type, Any]) -> dict[tuple[type, Any], str]:
    """The names of the objects the entries' foreign keys point to: one query per model
    (none for `skip`, the object whose history this is)."""
    wanted: dict[type, set] = defaultdict(set)
    for entry in entries:
        for change in entry.changes:
            field = change.model_field
            if field is not None and field.many_to_one:
                for value in (change.old, change.new):
                    if value is not None and (field.related_model, value) != skip:
                        wanted[field.related_model].add(value)
    return {
        (model, pk): str(obj)
        for model, ids in wanted.items()
        for pk, obj in model._default_manager.in_bulk(ids).items()
    }


def readable(value: Any, field, names: dict) -> str:
    """A recorded value as staff read it: the related object's name, JSON, a moment to the
    second, the choice's label."""
    if value is None:
        return "—"
    if field is not None and field.many_to_one:
        name = names.get((field.related_model, value))
        return f"{name} (#{value})" if name else f"#{value}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return moment_text(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def readable_changes(entries, *, skip: tuple[type, Any]) -> None:
    """Sets each entry's `rows`: (field, old, new) as text, and `part_label` for a part."""
    names = related_names(entries, skip=skip)
    for entry in entries:
        entry.rows = [
            (
                change.field,
                readable(change.old, change.model_field, names),
                readable(change.new, change.model_field, names),
            )
            for change in entry.changes
            if not (
                change.model_field is not None
                and change.model_field.many_to_one
                and (change.model_field.related_model, change.new) == skip
                and change.old in (None, change.new)
            )
        ]
        entry.part_label = (
            f"{entry.part._meta.verbose_name} {entry.event.pgh_obj_id}" if entry.part else ""
        )


@history_page
def object_history(model_admin, request, object_id, extra_context=None):
    """The History page of a tracked model: its audit events instead of admin LogEntry rows.

    GET parameters: `before` (an event id: older events, HISTORY_PAGE_SIZE at a time) and `at`
    (an ISO date-time: the object's field values at that moment, audit.selectors.object_as_of).
    """
    opts = model_admin.model._meta
    try:
        pk = opts.pk.to_python(unquote(object_id))
    except ValidationError:
        return model_admin._get_obj_does_not_exist_redirect(request, opts, object_id)
    obj = model_admin.get_object(request, unquote(object_id))
    # A deleted object keeps its history; who may view the model may read it.
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied

    page = selectors.object_history(
        model=model_admin.model,
        pk=pk,
        before=_parse_event_id(request.GET.get("before")),
        parts=getattr(model_admin, "history_parts", None),
    )
    if obj is None and not page.entries:
        return model_admin._get_obj_does_not_exist_redirect(request, opts, object_id)

    as_of, moment, moment_error = None, None, None
    if request.GET.get("at"):
        moment = _parse_moment(request.GET["at"])
        if moment is None:
            moment_error = "Enter a date and time such as 2025-01-31 12:00."
        else:
            fields = selectors.tracked_fields(selectors.event_model_for(model_admin.model))
            values = selectors.object_as_of(model=model_admin.model, pk=pk, at=moment)
            as_of = (
                None
                if values is None
                else [(f.verbose_name, readable(values[f.attname], f, {})) for f in fields]
            )

    selectors.with_usernames(page.entries)
    readable_changes(page.entries, skip=(model_admin.model, pk))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"History: {obj if obj is not None else f'{opts.verbose_name} {pk}'}",
        "subtitle": None,
        "object": obj,
        "object_pk": pk,
        "opts": opts,
        "entries": page.entries,
        "older": page.older,
        "moment": moment,
        "moment_error": moment_error,
        "as_of": as_of,
        "at": request.GET.get("at", ""),
        **(extra_context or {}),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, HISTORY_TEMPLATE, context)


# --------------------------------------------------------------------------- the audit log


def table_name(model) -> str:
    """What the log calls a tracked model: "User", "Order item"."""
    return str(model._meta.verbose_name).capitalize()


TABLE_NAMES = {
    m.pgh_tracked_model._meta.label_lower: table_name(m.pgh_tracked_model) for m in EVENT_MODELS
}


class AuditLogPaginator(CappedCountPaginator):
    """Exact up to 10,000 events: the log is read by filters that leave more rows than a shop
    list's, and one page's count of 10,001 index entries is still a few milliseconds."""

    CAP = 10_000


class ModelFilter(admin.SimpleListFilter):
    title = "table"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        return [
            (m.pgh_tracked_model._meta.label_lower, table_name(m.pgh_tracked_model))
            for m in EVENT_MODELS
        ]

    def queryset(self, request, queryset):
        # object_model is a constant per branch of the view: PostgreSQL keeps only that table.
        if self.value() is None:
            return queryset
        if self.value() not in dict(self.lookup_choices):
            raise IncorrectLookupParameters(f"Unknown model {self.value()!r}.")
        return queryset.filter(object_model=self.value())


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [("insert", "Insert"), ("update", "Update"), ("delete", "Delete")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        if self.value() not in dict(self.lookup_choices):
            raise IncorrectLookupParameters(f"Unknown action {self.value()!r}.")
        return queryset.filter(pgh_label=self.value())


class UserFilter(admin.SimpleListFilter):
    """Offers staff users (one small query); any user's id works in ?user=<id>."""

    title = "user"
    parameter_name = "user"

    def lookups(self, request, model_admin):
        staff = get_user_model().objects.filter(is_staff=True).order_by("username")
        return [(str(pk), username) for pk, username in staff.values_list("pk", "username")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        user_id = _parse_event_id(self.value())
        if user_id is None:
            raise IncorrectLookupParameters(f"Not a user id: {self.value()!r}.")
        return queryset.filter(pgh_user_id=user_id)


class WhenFilter(admin.DateFieldListFilter):
    """The event's date ("Today", "Past 7 days" ...), titled as staff say it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "date"


@admin.register(AuditLog)
class AuditLogAdmin(CappedCountAdminMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("when", "action", "object_kind", "object_link", "user", "via", "request_id")
    list_display_links = None  # events have no change page; the object link leads to history
    list_filter = (ModelFilter, ActionFilter, UserFilter, ("pgh_created_at", WhenFilter))
    list_select_related = ("pgh_user",)
    ordering = ("-pgh_created_at", "-pgh_id")  # every event table's time index, merged
    paginator = AuditLogPaginator
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    # What the changelist's count calls its rows (templates/admin/pagination.html): "8,040
    # events", where the model's own plural names the whole log.
    count_nouns = ("event", "events")

    @admin.display(description="when", ordering="-pgh_created_at")
    def when(self, entry):
        return format_html('<span class="nowrap">{}</span>', moment_text(entry.pgh_created_at))

    @admin.display(description="action")
    def action(self, entry):
        return entry.pgh_label

    @admin.display(description="table")
    def object_kind(self, entry):
        """ "shop.user" as the model's name: "User"."""
        for event_model in EVENT_MODELS:
            opts = event_model.pgh_tracked_model._meta
            if opts.label_lower == entry.object_model:
                return str(opts.verbose_name).capitalize()
        return entry.object_model

    @admin.display(description="object")
    def object_link(self, entry):
        app_label, model_name = entry.object_model.split(".")
        try:
            url = reverse(
                f"{self.admin_site.name}:{app_label}_{model_name}_history", args=[entry.object_id]
            )
        except NoReverseMatch:  # no admin page (the user group/permission join rows)
            return f"#{entry.object_id}"
        return format_html('<a href="{}" title="its history">#{}</a>', url, entry.object_id)

    @admin.display(description="user")
    def user(self, entry):
        return entry.pgh_user.username if entry.pgh_user is not None else "—"

    @admin.display(description="via")
    def via(self, entry):
        context = entry.pgh_context or {}
        detail = context.get("command") or context.get("task") or context.get("path")
        if not context:
            return "database"  # no context: a change made directly in the database
        return f"{context.get('via', '?')}: {detail}" if detail else context.get("via", "?")

    @admin.display(description="request")
    def request_id(self, entry):
        """The first 8 characters of the request's id (the whole id on hover): enough to tell
        a page's requests apart, on one line."""
        request_id = (entry.pgh_context or {}).get("request_id")
        if not request_id:
            return "—"
        return format_html('<span title="{}">{}</span>', request_id, str(request_id)[:8])

    def changelist_view(self, request, extra_context=None):
        # A filter refused its value (IncorrectLookupParameters) and the admin redirected here
        # with ?e=1, which it would answer with its "Database error" page. Say what it was.
        if request.GET.get("e") == "1":
            messages.error(request, "Unknown filter value: the audit log is shown unfiltered.")
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)
