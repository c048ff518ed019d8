"""Predefined staff groups: each app names the groups of its pages and their permissions,
and they are made after every `migrate` (post_migrate), once that app's permissions exist.

A group that exists keeps what staff gave it: only the permissions it lacks are added, none
is taken away, so `migrate` never undoes an administrator's choice. A permission may name a
model of an app listed before the registering one: its permissions exist by then.
"""

from django.apps import AppConfig
from django.db.models.signals import post_migrate

GROUPS: dict[str, set[str]] = {}  # group name -> "app_label.codename" permissions


def register(app_config: AppConfig, name: str, permissions: list[str]) -> None:
    """Group `name` with these permissions, made when `app_config`'s migrations have run."""
    GROUPS.setdefault(name, set()).update(permissions)
    post_migrate.connect(
        lambda **kwargs: ensure(name, GROUPS[name], using=kwargs["using"]),
        sender=app_config,
        weak=False,
        dispatch_uid=f"core-groups-{name}",
    )


def ensure(name: str, permissions: set[str], *, using: str = "default") -> None:
    """The group exists and holds at least these permissions. Three queries, four if it grows."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, _ = Group.objects.using(using).get_or_create(name=name)
    wanted = Q(pk__in=[])
    for permission in permissions:
        app_label, codename = permission.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    missing = (
        Permission.objects.using(using)
        .filter(wanted)
        .exclude(group=group)
        .values_list("pk", flat=True)
    )
    group.permissions.add(*missing)
