"""A batch's acks go in one frame (``multiple=True``) only when that acks exactly the batch."""

from __future__ import annotations

from clinic_shared.messaging.consumer import acks_at_once


def test_a_batch_with_nothing_pending_below_it_is_acked_at_its_highest_tag() -> None:
    assert acks_at_once({3, 4, 5}, unsettled={3, 4, 5, 6, 7}) == 5, "later deliveries are above: untouched"


def test_a_message_pending_below_the_batch_keeps_the_acks_one_by_one() -> None:
    # Another handler thread's message, or one waiting out its backoff before its requeue.
    assert acks_at_once({3, 4, 5}, unsettled={2, 3, 4, 5}) is None


def test_a_message_pending_inside_the_batchs_range_keeps_the_acks_one_by_one() -> None:
    # The batch's 4 was requeued (nacked later): acking up to 5 would ack it too.
    assert acks_at_once({3, 5}, unsettled={3, 4, 5}) is None


def test_a_tag_already_settled_is_never_acked_again() -> None:
    assert acks_at_once({3, 4}, unsettled={4}) is None
