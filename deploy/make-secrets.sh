#!/usr/bin/env bash
# Makes what deploy/docker-compose.yml needs and must not contain, once, with openssl:
#
#   deploy/.env       passwords (the PostgreSQL owner and service role, one per Kafka
#                     principal), the token public key, the relay's message signing key
#                     and the matching public key; empty SMTP settings for the notifier
#   deploy/secrets/   a CA, certificates from it for PostgreSQL, Kafka and the API, and the
#                     token private key (token-private.pem), which no container gets
#
#   SIMPUL_PUBLIC_HOST=simpul.dinas.example.go.id \
#   SIMPUL_KAFKA_PUBLIC_HOST=kafka.dinas.example.go.id bash deploy/make-secrets.sh
#
# Keep both off version control and readable only by the operators (deploy/secrets/ is
# 0700). ca.key signs nothing after this: move it offline. Give each agency its own
# Kafka password (SIMPUL_KAFKA_PASSWORD_AGENCY_<AGENCY>) and ca.crt, never another's.
# An office with its own CA or certificates replaces the files of the same names.
set -euo pipefail

DEPLOY="${SIMPUL_DEPLOY_DIR:-$(cd "$(dirname "$0")" && pwd)}"
PUBLIC_HOST="${SIMPUL_PUBLIC_HOST:?set SIMPUL_PUBLIC_HOST, the host name of the API}"
KAFKA_HOST="${SIMPUL_KAFKA_PUBLIC_HOST:?set SIMPUL_KAFKA_PUBLIC_HOST, the host name agencies reach Kafka at}"
AGENCIES="${SIMPUL_AGENCIES:-police health social education patbm province prosecutor court legal_aid civil_registry religious_affairs baznas bpjs}"
SECRETS="$DEPLOY/secrets"
ENV_FILE="$DEPLOY/.env"
DAYS=825

if [[ -e "$ENV_FILE" ]]; then
  echo "$ENV_FILE exists: remove it (and $SECRETS) first to make new secrets" >&2
  exit 1
fi
umask 077
mkdir -p "$SECRETS"
chmod 0700 "$SECRETS"
cd "$SECRETS"

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
password() { openssl rand -hex 24; }

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 3650 \
  -subj "/CN=Simpul deployment CA" -keyout ca.key -out ca.crt 2>/dev/null

certificate() {  # name, subject alternative names
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$DAYS" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2") \
    -out "$1.crt" 2>/dev/null
  rm "$1.csr"
}
certificate postgres "DNS:postgres"
certificate kafka "DNS:kafka,DNS:$KAFKA_HOST"
certificate api "DNS:$PUBLIC_HOST"
# Kafka reads its key and certificate chain from one PEM file (key in PKCS#8).
{ openssl pkcs8 -topk8 -nocrypt -in kafka.key; cat kafka.crt ca.crt; } > kafka.pem
rm kafka.key
# The containers' users read these through bind mounts; the folder itself stays 0700.
chmod 0644 ca.crt postgres.crt kafka.crt api.crt kafka.pem postgres.key api.key

# The relay's Ed25519 signing key: the last 32 bytes of the PKCS#8 / SPKI encodings.
openssl genpkey -algorithm ed25519 -outform DER -out signing.der
signing_key=$(tail -c 32 signing.der | b64url)
verify_key=$(openssl pkey -inform DER -in signing.der -pubout -outform DER | tail -c 32 | b64url)
rm signing.der
key_id="relay-$(date -u +%Y%m)"

# The token key pair: the API gets both, because it serves the login that issues tokens;
# a copy of the private key stays here (0600) for operators' `simpul token`.
openssl genpkey -algorithm ed25519 -out token-private.pem
chmod 0600 token-private.pem
token_public_key=$(openssl pkey -in token-private.pem -pubout | awk '{printf "%s\\n", $0}')
token_private_key=$(awk '{printf "%s\\n", $0}' token-private.pem)

{
  echo "# Made by deploy/make-secrets.sh on $(date -u +%Y-%m-%d). Secret: keep off git."
  echo "SIMPUL_PUBLIC_HOST=$PUBLIC_HOST"
  echo "SIMPUL_KAFKA_PUBLIC_HOST=$KAFKA_HOST"
  echo "SIMPUL_KAFKA_CLUSTER_ID=$(openssl rand 16 | b64url)"
  echo "SIMPUL_POSTGRES_PASSWORD=$(password)"
  echo "SIMPUL_DB_SERVICE_PASSWORD=$(password)"
  echo "SIMPUL_TOKEN_PUBLIC_KEY='$token_public_key'"
  echo "SIMPUL_TOKEN_PRIVATE_KEY='$token_private_key'"
  # Encrypts each account's second-factor key: the API's alone.
  echo "SIMPUL_ACCOUNT_KEY=$(openssl rand 32 | b64url)"
  # The key of the same-person fingerprints: the API's alone, the same for every district.
  echo "SIMPUL_PERSON_MATCH_KEY=$(openssl rand 32 | b64url)"
  echo "SIMPUL_SEARCH_KEY=$(openssl rand 32 | b64url)"
  echo "SIMPUL_DOCUMENT_MASTER_KEY=$(openssl rand 32 | b64url)"
  echo "SIMPUL_MESSAGE_SIGNING_KEY_ID=$key_id"
  echo "SIMPUL_MESSAGE_SIGNING_KEY=$signing_key"
  echo "SIMPUL_MESSAGE_VERIFY_KEYS='{\"$key_id\":\"$verify_key\"}'"
  echo "SIMPUL_KAFKA_PASSWORD_RELAY=$(password)"
  for agency in $AGENCIES; do
    name=$(echo "$agency" | tr 'a-z' 'A-Z')
    echo "SIMPUL_KAFKA_PASSWORD_PROJECTOR_$name=$(password)"
    echo "SIMPUL_KAFKA_PASSWORD_AGENCY_$name=$(password)"
  done
  # The notifier's SMTP server, given by the office's mail provider (not made here): fill
  # these in, or leave SIMPUL_SMTP_HOST empty and notices stay in the web application.
  echo "SIMPUL_SMTP_HOST="
  echo "SIMPUL_SMTP_PORT=587"
  echo "SIMPUL_SMTP_USERNAME="
  echo "SIMPUL_SMTP_PASSWORD="
  echo "SIMPUL_MAIL_FROM=simpul@$PUBLIC_HOST"
} > "$ENV_FILE"
echo "wrote $ENV_FILE and $SECRETS/ (move $SECRETS/ca.key offline)"
