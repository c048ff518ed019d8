from django.apps import AppConfig


class SchemadocsConfig(AppConfig):
    """The generated reference under docs/ (manage.py gendocs): read from the migrated database
    and from every app's models; tooling above the apps it documents."""

    name = "schemadocs"
