#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: the role every Simpul process
# connects as. `simpul db setup` (the db-setup service, as the owner) then gives it exactly
# its rights. For a volume made before this script existed, run the same statement by hand.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=password="$SIMPUL_DB_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE simpul_service LOGIN PASSWORD :'password';
SQL
