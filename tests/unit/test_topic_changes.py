"""When an agency projector reads its topic again from the beginning: the rule that tells
a recreated or repartitioned topic from the one its offsets were stored for."""

import threading
import time

import pytest
from kafka.errors import KafkaTimeoutError

from gateways.kafka.projector import TopicChange, topic_change
from gateways.kafka.topics import within

OLD_ID = "7d1c0c55-0000-4000-8000-000000000001"
NEW_ID = "7d1c0c55-0000-4000-8000-000000000002"


def test_the_same_topic_keeps_its_offsets():
    assert topic_change((OLD_ID, 3), {}, (OLD_ID, 3)) == TopicChange()


def test_a_topic_with_another_id_is_read_again():
    assert topic_change((OLD_ID, 3), {}, (NEW_ID, 3)).read_again == (
        "was recreated (another topic id)"
    )


def test_a_topic_with_another_partition_count_is_read_again():
    assert topic_change((OLD_ID, 3), {}, (OLD_ID, 6)).read_again == "has 6 partitions, not 3"


def test_a_broker_that_gives_no_id_for_a_moment_does_not_erase_the_id_known():
    # Were the missing id recorded, the next id (of a recreated topic) would be adopted
    # as the first one ever seen, and the offsets of the old topic used on the new one.
    assert topic_change((OLD_ID, 3), {}, (None, 3)) == TopicChange()


def test_offsets_stored_before_topic_ids_adopt_the_id():
    assert topic_change((None, 3), {}, (NEW_ID, 3)) == TopicChange(record=True)


def test_a_first_look_records_the_topic():
    assert topic_change(None, {}, (NEW_ID, 3)) == TopicChange(record=True)
    assert topic_change(None, {0: 5, 2: 9}, (NEW_ID, 3)) == TopicChange(record=True)


def test_offsets_of_partitions_the_topic_no_longer_has_mean_it_is_read_again():
    assert topic_change(None, {0: 5, 3: 9}, (NEW_ID, 3)).read_again == (
        "has 3 partitions, fewer than before"
    )


def test_a_broker_call_that_does_not_end_in_time_counts_as_the_broker_away():
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(KafkaTimeoutError, match="a topic lookup with the broker took over"):
        within(0.2, release.wait, "a topic lookup")
    assert time.monotonic() - started < 10
    release.set()


def test_a_broker_call_within_time_gives_its_answer_or_its_error():
    def refused() -> None:
        raise ValueError("refused")

    assert within(5, lambda: {"topic": 3}, "a lookup") == {"topic": 3}
    with pytest.raises(ValueError, match="refused"):
        within(5, refused, "a lookup")
