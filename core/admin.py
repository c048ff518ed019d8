"""Admin pieces shared by the apps: the read-only mixin, the capped count of big changelists,
and the History page's hook (HistoryAdminMixin), which the app that records history fills in.

A changelist of a big table (orders, order items, users, profiles, products, audit events)
never runs a COUNT(*) of everything, and never shows the planner's row estimate as a count:
an estimate can be far below the truth (row-level security's quals, a filter, stale or missing
statistics), and Django's admin rejects a page number beyond an undercounted total, so the rows
past it could not be reached at all. CappedCountPaginator counts exactly, reading at most one
row more than it needs; CappedCountAdminMixin wires it into the changelist and has its pages
say "1,000+" where the total is not known.
"""

from collections.abc import Callable

from django.core.paginator import EmptyPage, Paginator
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import ngettext

# LIMIT is a bigint in PostgreSQL: a page number like ?p=10**30 must not make the count's
# LIMIT overflow (a DataError, a 500). No table here comes near 2**62 rows, so a count capped
# there is exact, and the page number is then refused as out of range like any other.
MAX_LIMIT = 2**62


class CappedCountPaginator(Paginator):
    """An exact count of at most max(CAP, the requested page's end) + 1 rows, never an estimate.

    `count` is the exact number of rows when it is at most that limit (`is_exact`); otherwise
    it is limit + 1, a lower bound the database has verified (that many rows exist), so the
    requested page and the one after it are valid pages: every row is reachable by paging on,
    and each step costs one more page of rows, the same as the page's own OFFSET. Its query is
    `SELECT COUNT(*) FROM (SELECT ... LIMIT limit + 1)`: at most limit + 1 index or heap rows.
    """

    CAP = 1_000

    def __init__(self, *args, page_number=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_number = page_number

    @cached_property
    def limit(self) -> int:
        return min(max(self.CAP, self.page_number * self.per_page), MAX_LIMIT)

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.limit + 1].count()

    def validate_number(self, number):
        """A page beyond a lower bound is counted up to, not refused or cut short: whoever asks
        for page N (the changelist passes it in; an autocomplete or a view calling page() does
        not) gets all of its rows whenever they exist."""
        try:
            number = super().validate_number(number)
        except EmptyPage:
            if self.is_exact or int(number) < 1:
                raise
            number = int(number)
        if not self.is_exact and number * self.per_page > self.limit:
            self.page_number = number
            for name in ("limit", "count", "num_pages"):  # recounted up to that page's end
                self.__dict__.pop(name, None)
            number = super().validate_number(number)
        return number

    @property
    def is_exact(self) -> bool:
        return self.count <= self.limit

    @property
    def count_label(self) -> str:
        """What the page shows as the number of rows: "734", or "1,000+" when there are more."""
        return str(self.count) if self.is_exact else f"{self.limit:,}+"


def requested_page(request) -> int:
    """The changelist's page number, read exactly as django.contrib.admin's ChangeList reads it
    (`?p=`, 1 when it is not a number), so the count covers the page the changelist will ask for.
    """
    try:
        return int(request.GET.get("p", 1))
    except ValueError:
        return 1


class CappedCountAdminMixin:
    """A big table's changelist: capped exact counts, no second count, no facet counts.

    The templates (templates/admin/pagination.html, search_form.html, actions.html) show
    `paginator.count_label` instead of the number when the paginator is a CappedCountPaginator.
    """

    paginator = CappedCountPaginator
    # "N results (M total)" would be a COUNT(*) of the whole table on every search.
    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return self.paginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            page_number=requested_page(request),
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}  # a redirect has none
        cl = context.get("cl")  # the "Database error" page (?e=1) has no changelist
        if cl is not None and not cl.paginator.is_exact:
            # Django writes "All 1001 selected" from the lower bound; say what is known.
            context["selection_note_all"] = ngettext(
                "%(total_count)s selected", "All %(total_count)s selected", cl.result_count
            ) % {"total_count": cl.paginator.count_label}
        return response


class ReadOnlyMixin:
    """View only, for superusers too: rows that only the project's own code may write
    (order items, audit events, alerts)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DatabaseFilledMixin:
    """An add page leaves out the read-only fields the database fills in on INSERT (a
    db_default, a generated column): before the row exists they have no value to show, only
    Django's DatabaseDefault placeholder. The change page shows them as usual."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None:
            return fieldsets
        filled = {
            field.name
            for field in self.model._meta.concrete_fields
            if field.db_default is not models.NOT_PROVIDED or field.generated
        } & set(self.get_readonly_fields(request, obj))
        kept = []
        for name, options in fieldsets:
            fields = [f for f in options.get("fields", ()) if f not in filled]
            if fields:
                kept.append((name, {**options, "fields": fields}))
        return kept


class HistoryAdminMixin:
    """The change form's "History" page of a model whose changes are recorded.

    The page belongs to the app that records history (audit/admin.py registers it with
    history_page), which sits above the apps whose admins use this mixin; until one does,
    it is Django's own page of admin LogEntry rows.
    """

    history_page: Callable | None = None  # (model_admin, request, object_id, extra_context)
    # {part model: its foreign key to this model}: the parts' changes shown in the history
    # too (an order's items), e.g. {OrderItem: "order"}.
    history_parts: dict | None = None

    def history_view(self, request, object_id, extra_context=None):
        page = HistoryAdminMixin.history_page
        if page is None:
            return super().history_view(request, object_id, extra_context)
        return page(self, request, object_id, extra_context)


def history_page(view: Callable) -> Callable:
    """Decorator: `view` answers every HistoryAdminMixin's History page (one app registers)."""
    HistoryAdminMixin.history_page = staticmethod(view)
    return view
