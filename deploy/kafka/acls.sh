#!/usr/bin/env bash
# Simpul's Kafka principals (SASL/SCRAM-SHA-512 users) and what each may do (ACLs).
#
# Run it against any Kafka with an authorizer (StandardAuthorizer in KRaft mode) and
# allow.everyone.if.no.acl.found=false, as a super user. It is idempotent: users are
# upserted, ACLs added (adding one that exists changes nothing).
#
#   KAFKA_BOOTSTRAP=kafka-1:9092 KAFKA_COMMAND_CONFIG=admin.properties \
#     SIMPUL_KAFKA_PASSWORD_RELAY=... SIMPUL_KAFKA_PASSWORD_PROJECTOR_POLICE=... \
#     SIMPUL_KAFKA_PASSWORD_AGENCY_POLICE=... bash deploy/kafka/acls.sh
#
# (docker-compose.yml runs it inside the broker's container, over its loopback listener.)
# Passwords come from the environment, one per principal: SIMPUL_KAFKA_PASSWORD_<NAME>,
# NAME upper-cased with '-' as '_' (RELAY, PROJECTOR_POLICE, AGENCY_POLICE, ...).
#
# The policy:
#   simpul-relay               writes the internal topic and every agency topic (and creates
#                              them and the dead-letter topics); nobody else writes them
#   simpul-projector-<agency>  reads <agency>'s topic in group simpul-<agency>-projector and
#                              writes <agency>'s dead-letter topic; nobody else writes that
#   agency-<agency>            the agency's own system: reads its topic in group
#                              <agency>-inbox, nothing else (never the internal topic)
# The coordinator projector and the API use no Kafka at all and have no principal.
set -euo pipefail

PREFIX="${SIMPUL_KAFKA_TOPIC_PREFIX:-simpul}"
AGENCIES="${SIMPUL_AGENCIES:-police health social education patbm province prosecutor court legal_aid civil_registry religious_affairs baznas bpjs}"
BOOTSTRAP="${KAFKA_BOOTSTRAP:-127.0.0.1:9091}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
KAFKA_ACLS="${KAFKA_ACLS:-$KAFKA_BIN/kafka-acls.sh}"
KAFKA_CONFIGS="${KAFKA_CONFIGS:-$KAFKA_BIN/kafka-configs.sh}"
ITERATIONS=8192

connection=(--bootstrap-server "$BOOTSTRAP")
if [[ -n "${KAFKA_COMMAND_CONFIG:-}" ]]; then
  connection+=(--command-config "$KAFKA_COMMAND_CONFIG")
fi

password_of() {
  local variable="SIMPUL_KAFKA_PASSWORD_$(echo "${1#simpul-}" | tr 'a-z-' 'A-Z_')"
  if [[ -z "${!variable:-}" ]]; then
    echo "set $variable (the password of $1)" >&2
    exit 1
  fi
  printf '%s' "${!variable}"
}

user() {
  "$KAFKA_CONFIGS" "${connection[@]}" --alter --entity-type users --entity-name "$1" \
    --add-config "SCRAM-SHA-512=[iterations=$ITERATIONS,password=$(password_of "$1")]"
}

allow() {
  local principal="$1"
  shift
  "$KAFKA_ACLS" "${connection[@]}" --add --allow-principal "User:$principal" "$@"
}

internal="$PREFIX.cases.v1"

user simpul-relay
allow simpul-relay --operation Write --operation Describe --operation Create --topic "$internal"
allow simpul-relay --operation IdempotentWrite --cluster
for agency in $AGENCIES; do
  topic="$PREFIX.agency.$agency.v1"
  allow simpul-relay --operation Write --operation Describe --operation Create --topic "$topic"
  allow simpul-relay --operation Create --operation Describe --topic "$topic.dlq"

  user "simpul-projector-$agency"
  allow "simpul-projector-$agency" --operation Read --operation Describe --topic "$topic"
  allow "simpul-projector-$agency" --operation Read --group "$PREFIX-$agency-projector"
  allow "simpul-projector-$agency" --operation Write --operation Describe --topic "$topic.dlq"
  allow "simpul-projector-$agency" --operation IdempotentWrite --cluster

  user "agency-$agency"
  allow "agency-$agency" --operation Read --operation Describe --topic "$topic"
  allow "agency-$agency" --operation Read --group "$agency-inbox"
done
