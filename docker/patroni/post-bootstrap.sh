#!/bin/sh
# Patroni's post_bootstrap (docker/patroni/patroni.yml): $1 is a connection string to the
# new leader, as the superuser. What the postgres image's initdb scripts do for its service.
set -e
psql "$1" -v ON_ERROR_STOP=1 -c "CREATE DATABASE shop"
psql "$(echo "$1" | sed 's/dbname=[^ ]*/dbname=shop/')" -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
