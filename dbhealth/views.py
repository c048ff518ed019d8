"""The dashboard's pages, one view per page, inside the admin (urls.py wraps each in
admin_site.admin_view).

Every page needs the dbhealth.view_dashboard permission (staff alone is not enough); the
cancel/terminate actions need a superuser, a confirmation POST, and leave an admin log entry.
Reads run in one READ ONLY transaction under short timeouts (dbhealth/stats/cursor.py), so the
dashboard can never be the thing that holds a lock or runs away during an incident.
"""

from __future__ import annotations

import datetime as dt
from functools import wraps

import psycopg
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from dbhealth import origins, snapshots, stats
from dbhealth.conf import config
from dbhealth.models import Alert, Dashboard
from dbhealth.panels import (
    PANELS,
    SQL_PANELS,
    activity,
    application,
    explain,
    history,
    indexes,
    maintenance,
    pooler,
    queries,
    replication,
    settings,
    space,
    statement_origins,
)
from dbhealth.panels.base import RANK
from dbhealth.stats.cursor import reading
from dbhealth.stats.statements import ORDERS

PERMISSION = "dbhealth.view_dashboard"


def dashboard_permission(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def render(request, template: str, panel: str, **context) -> TemplateResponse:
    titles = {name: module.TITLE for name, module in PANELS}
    context = {
        **admin.site.each_context(request),
        "title": f"Database health: {titles[panel]}" if panel != "overview" else "Database health",
        "panel": panel,
        "tabs": [(name, module.TITLE) for name, module in PANELS],
        **context,
    }
    return TemplateResponse(request, f"dbhealth/{template}.html", context)


def overview_view(request):
    cfg = config()
    with reading() as cursor:
        results = {panel.TITLE: panel.collect(cursor, cfg) for panel in SQL_PANELS}
    results[application.TITLE] = application.collect(cfg)
    checks = [check for result in results.values() for check in result["checks"]]
    checks.sort(key=lambda c: -RANK[c.status])  # red first, then yellow, then green
    return render(
        request,
        "overview",
        "overview",
        data=results["Overview"],
        checks=checks,
        counts={s: sum(1 for c in checks if c.status == s) for s in RANK},
        alerts=list(Alert.objects.filter(resolved_at__isnull=True).order_by("-first_seen")),
        resolved=list(Alert.objects.filter(resolved_at__isnull=False).order_by("-first_seen")[:10]),
    )


def sql_panel(request, name: str, panel) -> TemplateResponse:
    """A page that shows one panel's collect() on the read-only cursor, with its checks."""
    with reading() as cursor:
        data = panel.collect(cursor, config())
    return render(request, name, name, data=data, checks=data["checks"])


def queries_view(request):
    order = request.GET.get("order", "total")
    order = order if order in ORDERS else "total"
    slow_only = request.GET.get("slow") == "1"
    with reading() as cursor:
        data = queries.collect(cursor, config(), order=order, slow_only=slow_only)
    found = origins.by_queryid() if data["statements"] else {}
    for statement in data["statements"]:
        statement["origins"] = found.get(statement["queryid"], [])
    return render(
        request,
        "queries",
        "queries",
        data=data,
        checks=data["checks"],
        order=order,
        slow_only=slow_only,
    )


def activity_view(request):
    return sql_panel(request, "activity", activity)


def space_view(request):
    return sql_panel(request, "space", space)


def indexes_view(request):
    return sql_panel(request, "indexes", indexes)


def maintenance_view(request):
    return sql_panel(request, "maintenance", maintenance)


def replication_view(request):
    return sql_panel(request, "replication", replication)


def pooler_view(request):
    return sql_panel(request, "pooler", pooler)


def settings_view(request):
    return sql_panel(request, "settings", settings)


def application_view(request):
    data = application.collect(config())
    return render(request, "application", "application", data=data, checks=data["checks"])


def query_view(request, queryid: int):
    with reading() as cursor:
        statement = queries.detail(cursor, queryid)
    if statement is None:
        raise Http404("No such statement in pg_stat_statements for this database.")
    range_name = range_from(request)
    return render(
        request,
        "query_detail",
        "queries",
        statement=statement,
        origins=origins.by_queryid().get(queryid, []),
        range=range_name,
        ranges=list(snapshots.RANGES),
        chart=snapshots.query_series(queryid, range_name),
    )


def range_from(request) -> str:
    given = request.GET.get("range", "24h")
    return given if given in snapshots.RANGES else "24h"


def history_view(request):
    data = history.collect(range_from(request))
    return render(request, "history", "history", data=data, checks=[])


def origins_view(request):
    return render(request, "origins", "origins", data=statement_origins.collect(), checks=[])


def origin_view(request, origin: str):
    statements = origins.statements_of(origin)
    if not statements:
        raise Http404("No statement recorded for this origin.")
    return render(request, "origin", "origins", origin=origin, statements=statements, checks=[])


class ExplainForm(forms.Form):
    sql = forms.CharField(
        label="Statement",
        widget=forms.Textarea(
            attrs={"rows": 10, "class": "vLargeTextField dbh-sql-input", "spellcheck": "false"}
        ),
        help_text="One SELECT, INSERT, UPDATE, DELETE or MERGE. It is planned, never run, "
        "unless ANALYZE is ticked.",
    )
    analyze = forms.BooleanField(
        label="ANALYZE (runs the statement: SELECT only, read-only, rolled back)",
        required=False,
    )

    def clean(self):
        data = super().clean()
        if "sql" in data:
            try:
                data["statement"] = explain.parse(data["sql"], analyze=data.get("analyze", False))
            except stats.plans.Refused as refused:
                raise forms.ValidationError(str(refused), code="refused") from refused
        return data


@require_http_methods(["GET", "POST"])
def explain_view(request):
    cfg = config()
    result = None
    if request.method == "POST":
        form = ExplainForm(request.POST)
        if form.is_valid():
            statement = form.cleaned_data["statement"]
            analyze = form.cleaned_data["analyze"]
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    plan = stats.plans.run(
                        cursor,
                        statement,
                        analyze=analyze,
                        config=cfg,
                        version=stats.server.version_num(cursor),
                    )
                    transaction.set_rollback(True)  # whatever ANALYZE did is undone
                result = explain.tree(plan, costly_share=cfg["EXPLAIN_COSTLY_SHARE"])
                result["json"] = plan
            except stats.plans.Refused as refused:
                form.add_error(None, str(refused))
            except DatabaseError as error:
                form.add_error(None, f"PostgreSQL refused it: {str(error).strip()}")
    else:
        initial = {}
        queryid = request.GET.get("queryid", "")
        if queryid.lstrip("-").isdigit():
            with reading() as cursor:
                statement = queries.detail(cursor, int(queryid))
            if statement:
                initial["sql"] = statement["query"]
        form = ExplainForm(initial=initial)
    return render(request, "explain", "explain", form=form, result=result, checks=[])


ACTIONS = {
    "cancel": ("Cancel the statement", "Cancelled the running statement of backend"),
    "terminate": ("Terminate the session", "Terminated backend"),
}


@require_http_methods(["GET", "POST"])
def signal_view(request, pid: int, action: str):
    """Confirm (GET) then cancel or terminate (POST) a backend of this database. Superusers."""
    if action not in ACTIONS:
        raise Http404
    if not request.user.is_superuser:
        raise PermissionDenied
    with reading() as cursor:
        session = stats.activity.session(cursor, pid)
    if session is None:
        messages.warning(request, f"Backend {pid} is not connected to this database any more.")
        return HttpResponseRedirect(reverse("dbhealth:activity"))
    label, done = ACTIONS[action]
    if request.method == "POST":
        # The statement the confirmation page showed: a backend that has moved on to another
        # (the next client's, behind a transaction pooler) is not signalled.
        # Empty: the session had run no statement yet. Missing or not a time: not our form.
        shown = request.POST.get("query_start")
        try:
            started = dt.datetime.fromisoformat(shown) if shown else None
        except ValueError:
            shown = None
        signalled = False
        if shown is not None:
            with connection.cursor() as cursor:
                role = stats.activity.current_role(cursor)
            try:
                with stats.activity.direct(role) as cursor:
                    signalled = stats.activity.signal_backend(cursor, pid, action, started)
            except psycopg.Error as error:  # e.g. a superuser's backend, for a staff login
                messages.error(request, f"PostgreSQL refused it: {str(error).strip()}")
                return HttpResponseRedirect(reverse("dbhealth:activity"))
        if not signalled:
            messages.error(
                request,
                f"PostgreSQL did not signal backend {pid}: it is gone, or it has moved on "
                "from the statement you confirmed.",
            )
            return HttpResponseRedirect(reverse("dbhealth:activity"))
        query = (session["query"] or "")[:150]
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=ContentType.objects.get_for_model(Dashboard),
            object_id=str(pid),
            object_repr=f"backend {pid} ({session['role']}, {session['application_name']})"[:200],
            action_flag=CHANGE,
            change_message=f"{done} {pid}: {query}",
        )
        messages.success(request, f"{done} {pid}.")
        return HttpResponseRedirect(reverse("dbhealth:activity"))
    return render(request, "confirm", "activity", session=session, action=action, label=label)
