"""Kafka in and out: the relay, the agency projectors, the published message contract."""
