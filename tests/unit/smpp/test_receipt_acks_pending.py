"""PendingAcks: an answer follows its own receipt, never another receipt with the same SMSC id."""

from __future__ import annotations

from msgbridge.adapters.smpp.acks import Ack, PendingAcks
from msgbridge.core.message import DeliveryReceipt
from msgbridge.core.status import DeliveryStatus
from msgbridge.smpp import codec


class Written:
    """Stands in for a session: records what it was asked to answer, on connection ``generation``."""

    def __init__(self, generation: int = 1) -> None:
        self.generation = generation
        self.answers: list[tuple[int, int]] = []

    def respond(self, acks: list[Ack], status: int) -> int:
        live = [a for a in acks if a.generation == self.generation]
        self.answers.extend((a.seq, status) for a in live)
        return len(live)


def receipt(status: DeliveryStatus) -> DeliveryReceipt:
    return DeliveryReceipt(native_id="1A", status=status, link="smpp://u@h:1")


def test_storing_the_intermediate_receipt_does_not_answer_the_final_one() -> None:
    session = Written()
    acks = PendingAcks()
    accepted, delivered = receipt(DeliveryStatus.ACCEPTED), receipt(DeliveryStatus.DELIVERED)
    acks.attach(accepted, Ack(session, 1, 7, codec.DELIVER_SM_RESP))
    acks.attach(delivered, Ack(session, 1, 8, codec.DELIVER_SM_RESP))
    assert acks.stored([accepted], codec.ESME_ROK) == 1
    assert session.answers == [(7, codec.ESME_ROK)] and len(acks) == 1
    assert acks.stored([accepted], codec.ESME_ROK) == 0  # answered once
    assert acks.refuse_all(codec.ESME_RX_T_APPN) == 1
    assert session.answers == [(7, codec.ESME_ROK), (8, codec.ESME_RX_T_APPN)]
    assert (acks.answered, acks.refused, len(acks)) == (1, 1, 0)


def test_an_answer_owed_on_a_lost_connection_is_not_written_on_the_next_one() -> None:
    session = Written(generation=2)  # reconnected since the deliver_sm came
    acks = PendingAcks()
    r = receipt(DeliveryStatus.DELIVERED)
    acks.attach(r, Ack(session, 1, 3, codec.DELIVER_SM_RESP))
    assert acks.stored([r], codec.ESME_ROK) == 0
    assert session.answers == [] and len(acks) == 0


def test_receipts_without_an_owed_answer_are_ignored() -> None:
    acks = PendingAcks()
    acks.attach(receipt(DeliveryStatus.DELIVERED), None)  # not held: answered when it arrived
    assert len(acks) == 0
    assert acks.stored([receipt(DeliveryStatus.DELIVERED)], codec.ESME_ROK) == 0
