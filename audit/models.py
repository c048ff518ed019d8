"""Trigger-based history of the shop's tables (django-pghistory), and the audit log over it.

Every shop table has an event table here (audit_<model>event). PostgreSQL triggers on the shop
table (installed by shop/migrations, written by pghistory) insert one event row per inserted,
changed or deleted row: a copy of the row (NEW for insert/update, OLD for delete) plus

    pgh_id          one sequence for every event table: unique across them, the log's key
    pgh_created_at  clock_timestamp() when the trigger ran (settings: PGHISTORY_CREATED_AT_...)
    pgh_label       insert | update | delete
    pgh_obj_id      the row's primary key (no constraint: history outlives the row)
    pgh_context     who and through what (audit/context.py), copied onto every event; NULL for
                    a change made directly in the database, outside any context
    pgh_context_id  one id per request, task or command: groups its events
    pgh_user_id     pgh_context's user, as a stored generated column, for an indexed filter

An update is recorded only when a tracked column really changed. User.password and
Product.search_vector are not tracked: a hash has no business in history, and the search
vector is derived from name and description, which are.

Events are immutable (the append_only trigger below); retention (audit/retention.py) is the one
way to delete them. In the database each event table is range-partitioned by month on
pgh_created_at (audit/partitions.py, audit/migrations/0002), which Django does not model: its
primary key there is (pgh_id, pgh_created_at), as a partitioned table's must contain the
partition key, and pgh_id stays unique by its sequence.
"""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from pghistory.models import Event

from shop.models import (
    Category,
    Order,
    OrderItem,
    Product,
    User,
    UserGroup,
    UserPermission,
    UserProfile,
)

# Created by audit/migrations/0001 before the first event table; every event table draws from it.
EVENT_ID_SEQUENCE = "audit_event_pgh_id_seq"

# Set with SET LOCAL by the retention job only: DELETE of events older than this timestamp is
# allowed for the rest of that (short) transaction. Nothing else may change an event.
PRUNE_BEFORE_SETTING = "audit.prune_before"

# History is immutable: UPDATE and DELETE of an event fail, raw SQL included, except the
# retention job's DELETE of events older than audit.prune_before.
APPEND_ONLY = pgtrigger.Trigger(
    name="append_only",
    when=pgtrigger.Before,
    operation=pgtrigger.Update | pgtrigger.Delete,
    func=f"""
    IF TG_OP = 'DELETE' AND OLD.pgh_created_at
        < NULLIF(current_setting('{PRUNE_BEFORE_SETTING}', true), '')::timestamptz THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'Only the retention job (manage.py prune_audit) deletes events.';
    """,
)


def trackers() -> tuple[pghistory.RowEvent, ...]:
    """New instances per model: a tracker keeps the fields of the model it was set up for."""
    return (
        pghistory.InsertEvent(trigger_name="audit_insert"),
        # Fires only when a tracked column changed (pghistory's default AnyChange over the
        # event model's fields); the shop's touch triggers leave updated_at alone on a no-op.
        pghistory.UpdateEvent(trigger_name="audit_update"),
        pghistory.DeleteEvent(trigger_name="audit_delete"),
    )


class AuditEvent(Event):
    """What every event table has besides the tracked model's columns."""

    pgh_id = models.BigIntegerField(
        primary_key=True,  # one id space for all events: the log orders and pages on it
        db_default=models.Func(
            models.Value(EVENT_ID_SEQUENCE),
            function="nextval",
            output_field=models.BigIntegerField(),
        ),
        editable=False,
        db_comment=f"From {EVENT_ID_SEQUENCE}, shared by every event table.",
    )
    # A context's user is a number when the middleware set it; anything else (or nothing) is
    # NULL here rather than a cast error that would fail the shop's own write.
    pgh_user_id = models.GeneratedField(
        expression=models.Case(
            models.When(
                pgh_context__user__regex=r"^[0-9]{1,18}$",
                then=Cast(KT("pgh_context__user"), models.BigIntegerField()),
            ),
            output_field=models.BigIntegerField(),
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
        db_comment="pgh_context->>'user' as a number: the audit log's user filter.",
    )

    class Meta:
        abstract = True


def _track(
    model: type[models.Model], model_name: str, short: str, *, exclude: tuple[str, ...] = ()
):
    """The event model of `model`, with the indexes the History view and the audit log use.

    `short` names its indexes (Django allows 30 characters).
    """
    prefix = f"audit_{short}"
    return pghistory.create_event_model(
        model,
        *trackers(),
        exclude=list(exclude),
        base_model=AuditEvent,
        # Context copied onto the event (JSONB + its id): no pghistory_context upsert per
        # statement, and the log filters on the event table's own columns.
        context_field=pghistory.ContextJSONField(),
        context_id_field=pghistory.ContextUUIDField(),
        # order.audit_events: its events. Not indexed alone: the obj index below leads with it.
        obj_field=pghistory.ObjForeignKey(db_index=False, related_name="audit_events"),
        append_only=False,  # our own append_only trigger: it lets the retention job through
        model_name=model_name,
        app_label="audit",
        abstract=False,
        meta={
            "triggers": [APPEND_ONLY],
            "indexes": [
                # An object's History view and time travel: its events newest first.
                models.Index(fields=["pgh_obj", "-pgh_id"], name=f"{prefix}_obj_idx"),
                # The audit log, newest first (also date ranges, the model filter and the
                # retention job's "older than").
                models.Index(fields=["-pgh_created_at", "-pgh_id"], name=f"{prefix}_time_idx"),
                # The log filtered by user. Events with no user (commands, raw SQL) are left
                # out of the index.
                models.Index(
                    fields=["pgh_user_id", "-pgh_created_at", "-pgh_id"],
                    name=f"{prefix}_user_idx",
                    condition=Q(pgh_user_id__isnull=False),
                ),
                # The log filtered by action = delete. Deletes are rare, so scanning the time
                # index for them could read the whole table; inserts and updates are most
                # events, and the time index finds a page of them at once.
                models.Index(
                    fields=["-pgh_created_at", "-pgh_id"],
                    name=f"{prefix}_del_idx",
                    condition=Q(pgh_label="delete"),
                ),
            ],
        },
    )


UserEvent = _track(User, "UserEvent", "user", exclude=("password",))
UserGroupEvent = _track(UserGroup, "UserGroupEvent", "usergroup")
UserPermissionEvent = _track(UserPermission, "UserPermissionEvent", "userperm")
UserProfileEvent = _track(UserProfile, "UserProfileEvent", "profile")
CategoryEvent = _track(Category, "CategoryEvent", "category")
ProductEvent = _track(Product, "ProductEvent", "product", exclude=("search_vector",))
OrderEvent = _track(Order, "OrderEvent", "order")
OrderItemEvent = _track(OrderItem, "OrderItemEvent", "orderitem")
# Not tracked: shop.IdempotencyKey, request bookkeeping written with its order (whose own
# events say who ordered what); it holds no business state to audit.
UNTRACKED = ("shop.IdempotencyKey",)

EVENT_MODELS = (
    UserEvent,
    UserGroupEvent,
    UserPermissionEvent,
    UserProfileEvent,
    CategoryEvent,
    ProductEvent,
    OrderEvent,
    OrderItemEvent,
)


class AuditLog(models.Model):
    """Every event of every table: the view audit_log, a UNION ALL of the event tables.

    PostgreSQL flattens the view, so a filter on object_model keeps only that table's branch,
    and "newest first, one page" is a merge of each table's time index (or user index, or
    delete index), never a sort of everything. Created and kept in step with EVENT_MODELS by
    audit/migrations (tests/audit/test_log.py checks it lists every event table).
    """

    pgh_id = models.BigIntegerField(primary_key=True)
    pgh_created_at = models.DateTimeField()
    pgh_label = models.TextField()
    object_model = models.TextField()  # "shop.order": a constant per branch of the view
    object_id = models.BigIntegerField()
    pgh_context = models.JSONField(null=True)
    pgh_context_id = models.UUIDField(null=True)
    # The event's pgh_user_id; a relation only so the log can join the username in its query.
    pgh_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        managed = False
        db_table = "audit_log"
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.pgh_label} {self.object_model} {self.object_id}"
