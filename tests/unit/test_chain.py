"""The hash chain's bytes are a stored contract: the same input always gives the same hash."""

from uuid import UUID

import pytest

from gateways.eventstore.chain import (
    GENESIS,
    ChainRoot,
    MalformedRoot,
    chain_hash,
    event_digest,
    event_hash,
)

CASE = UUID("8c0f6a8e-3f0b-4c59-9a53-2f7e0b0f1d11")


def test_event_and_chain_hashes_are_the_ones_already_stored() -> None:
    # Known answers from the first release of chain.py: stores written then must keep verifying.
    first = event_hash(GENESIS, CASE, 1, "domain.case:Case.ReportReceived", b'{"a":1}')
    second = event_hash(first, CASE, 2, "domain.case:Case.RiskClassified", b'{"b":"tinggi"}')
    chained = chain_hash(GENESIS, 1, first)

    assert first.hex() == "06864a3770bd92d2260fabb83974d7d5e4d0b3f68f1f0ceb59d9aea1b0f63172"
    assert second.hex() == "f8649be370bfc6d5eed7649ad7151a0ed717cb3eb3233cb80e3a3bc0eff49af0"
    assert chained.hex() == "b9d4e00866cc968446a955589ef0229d81940cbe563abf3e193b521558e4b9e3"
    assert chain_hash(chained, 7, second).hex() == (
        "d14393f6caafd82a3eb2e880b7af74dcb57e7855e1574bf3172f138a32ad6625"
    )
    assert event_digest(GENESIS, CASE.bytes, 1, "domain.case:Case.ReportReceived", b'{"a":1}') == (
        first
    )


def test_a_root_reads_back_from_its_printed_form() -> None:
    root = ChainRoot(42, 40, bytes(range(32)))

    assert str(root) == f"simpul-root:v1:42:40:{bytes(range(32)).hex()}"
    assert ChainRoot.parse(f"  {root}\n") == root


@pytest.mark.parametrize(
    "text",
    [
        "simpul-root:v2:42:40:" + "00" * 32,
        "simpul-root:v1:x:40:" + "00" * 32,
        "simpul-root:v1:42:40:" + "00" * 31,
        "simpul-root:v1:0:0:" + "00" * 32,
        "42:40",
    ],
)
def test_a_malformed_root_is_refused(text: str) -> None:
    with pytest.raises(MalformedRoot):
        ChainRoot.parse(text)
