#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: mendflow's own role and database beside Temporal's.
# The password arrives as a psql variable, so it never appears in a command line or in this file.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$MENDFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE mendflow LOGIN PASSWORD :'pw';
CREATE DATABASE mendflow OWNER mendflow;
SQL
