#!/usr/bin/env bash
# The broker of docker-compose.yml: starts Kafka as the image would, then creates
# Simpul's SCRAM users and ACLs (acls.sh) over the container-local listener, then
# marks itself ready for the healthcheck (the Simpul services wait for that).
set -euo pipefail
rm -f /tmp/simpul-kafka-ready
/etc/kafka/docker/run &
broker=$!
trap 'kill -TERM "$broker"; wait "$broker"' TERM INT
until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server 127.0.0.1:9091 >/dev/null 2>&1; do
  kill -0 "$broker"
  sleep 2
done
KAFKA_BOOTSTRAP=127.0.0.1:9091 bash /opt/simpul/acls.sh
touch /tmp/simpul-kafka-ready
wait "$broker"
