# The order status trigger, now generated from Order.TRANSITIONS (shop/models.py,
# TransitionTrigger): the same five legal moves as 0001's hand-written IF, as a list of
# "from:to" pairs. Same name, SQLSTATE and constraint name; reversible (RemoveTrigger and
# AddTrigger each undo the other).

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0015_rls_fail_closed"),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="order",
            name="status_transition",
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="order",
            trigger=pgtrigger.compiler.Trigger(
                name="status_transition",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."status" IS DISTINCT FROM (NEW."status"))',
                    func="IF concat(OLD.\"status\", ':', NEW.\"status\") <> ALL (ARRAY['pending:processing', 'pending:cancelled', 'processing:shipped', 'processing:cancelled', 'shipped:delivered']) THEN RAISE EXCEPTION 'illegal order status transition % -> %', OLD.\"status\", NEW.\"status\" USING ERRCODE = 'check_violation', CONSTRAINT = 'shop_order_status_transition'; END IF; RETURN NEW;",
                    hash="a73133c55dacc644a4af1be80cd0431d857789e4",
                    operation='UPDATE OF "status"',
                    pgid="pgtrigger_status_transition_2e891",
                    table="shop_order",
                    when="BEFORE",
                ),
            ),
        ),
    ]
