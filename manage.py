#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    from django.core.management import execute_from_command_line

    from audit.context import command_context
    from dbhealth import origins

    # Every write the command makes is recorded with its name (audit history), and every
    # statement it sends carries it in a SQL comment (dbhealth/origins.py).
    with command_context(sys.argv), origins.command_context(sys.argv):
        execute_from_command_line(sys.argv)
