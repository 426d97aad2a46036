"""The audit log's hash chain: it grows, verifies, and names the first row altered or
removed; concurrent and rolled-back transactions leave one unbroken line."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select, update

from portal.audit import log as audit
from portal.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from portal.extensions import db

events = AuditEvent.__table__


def _record_three(actor=None) -> list[int]:
    ids = [
        audit.record("auth.sign_in", actor=actor, details={"second_factor": True}),
        audit.record("case.viewed", actor=actor, target=("application", "K7MX-4P9Q-R"),
                     department="TD", details={"tab": "answers"}),
        audit.record("export.csv", actor=actor, department="TD", details={"rows": 12}),
    ]
    db.session.commit()
    return ids


def _verify_cli(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_the_chain_grows_and_verifies(app, create_staff):
    officer = create_staff()
    ids = _record_three(officer)
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert rows[0].prev_hash == GENESIS_HASH
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert rows[1].actor_id == officer.id
    assert rows[1].actor_role == "officer"
    assert rows[1].target_type == "application"
    assert rows[1].target_id == "K7MX-4P9Q-R"
    assert rows[0].department == "TD"  # the actor's department by default
    assert rows[0].created_at.tzinfo is not None
    report = audit.verify()
    assert report.ok
    assert report.count == 3
    assert report.head_hash == rows[-1].hash
    code, output = _verify_cli(app)
    assert code == 0, output
    assert "3 events verified" in output


def test_an_empty_log_verifies(app):
    assert audit.verify().ok
    code, output = _verify_cli(app)
    assert code == 0
    assert "0 events" in output


ALTERATIONS = {
    "created_at": datetime(2020, 1, 1, tzinfo=UTC),
    "actor_ref": 999_999,
    "actor_role": "portal_admin",
    "department": "IMMD",
    "action": "export.csv",
    "target_type": "refund",
    "target_id": "someone-else",
    "details": {"tab": "payments"},
    "ip": "203.0.113.9",
    "request_id": "forged",
    "prev_hash": "f" * 64,
    "hash": "e" * 64,
}


@pytest.mark.parametrize("field", sorted(ALTERATIONS))
def test_altering_any_field_of_a_row_is_named(app, field):
    first, middle, _last = _record_three()
    db.session.execute(update(events).where(events.c.id == middle)
                       .values({field: ALTERATIONS[field]}))
    db.session.commit()
    report = audit.verify()
    assert not report.ok
    assert report.broken_at == middle
    assert "altered" in report.problem
    assert report.count == 1  # the row before it still verified
    code, output = _verify_cli(app)
    assert code == 1
    assert f"row {middle}" in output
    assert "altered" in output
    assert f"row {first}:" not in output


def test_an_altered_row_with_its_hash_recomputed_breaks_the_next_link(app):
    first, middle, last = _record_three()
    row = db.session.get(AuditEvent, middle)
    fields = {name: getattr(row, name) for name in audit.HASHED_FIELDS}
    fields["department"] = "IMMD"
    db.session.execute(update(events).where(events.c.id == middle)
                       .values(department="IMMD", hash=audit.event_hash(fields)))
    db.session.commit()
    report = audit.verify()
    assert report.broken_at == last
    assert f"row {middle}" in report.problem
    assert "removed" in report.problem


def test_deleting_a_middle_row_names_the_row_after_the_gap(app):
    first, middle, last = _record_three()
    db.session.execute(delete(events).where(events.c.id == middle))
    db.session.commit()
    report = audit.verify()
    assert report.broken_at == last
    assert "removed" in report.problem
    code, output = _verify_cli(app)
    assert code == 1
    assert f"row {last}" in output


def test_deleting_the_first_row_is_detected(app):
    first = _record_three()[0]
    db.session.execute(delete(events).where(events.c.id == first))
    db.session.commit()
    report = audit.verify()
    assert report.broken_at == first + 1
    assert "start of the chain" in report.problem


def test_deleting_the_last_row_is_detected_by_the_head(app):
    *_, last = _record_three()
    db.session.execute(delete(events).where(events.c.id == last))
    db.session.commit()
    report = audit.verify()
    assert not report.ok
    assert report.broken_at == last
    assert "missing" in report.problem
    code, output = _verify_cli(app)
    assert code == 1
    assert f"row {last}" in output


def test_deleting_the_head_row_is_detected(app):
    _record_three()
    db.session.execute(delete(AuditChainHead))
    db.session.commit()
    assert "head" in audit.verify().problem


def test_a_rolled_back_transaction_leaves_no_trace(app):
    kept = audit.record("auth.sign_in", details={"n": 1})
    db.session.commit()
    audit.record("case.viewed", details={"n": 2})
    audit.record("case.viewed", details={"n": 3})
    db.session.rollback()
    after = audit.record("export.csv", details={"n": 4})
    db.session.commit()
    assert after == kept + 1  # the ids the rolled-back events took are given out again
    assert db.session.scalar(select(func.count()).select_from(events)) == 2
    report = audit.verify()
    assert report.ok
    assert report.count == 2


def test_parallel_records_make_one_unbroken_chain(app):
    """Ten threads, each its own transaction, record at the same moment."""
    threads_count = 10
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(number: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                audit.record("case.viewed", target=("application", f"A-{number}"),
                             details={"thread": number})
                db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    prev_hashes = db.session.scalars(select(AuditEvent.prev_hash)).all()
    assert len(prev_hashes) == threads_count
    assert len(set(prev_hashes)) == threads_count  # no two rows after the same row
    report = audit.verify()
    assert report.ok, report.problem
    assert report.count == threads_count


@pytest.mark.parametrize("details", [
    {"password": "x"}, {"new_password_hash": "x"}, {"totp_code": "123456"},
    {"session_token": "abc"}, {"nested": {"secret": "x"}}, {"hkid": "A123456(3)"},
    {"note": "applicant A123456(3) called"}, {"ids": ["A1234563"]}, {"amount": 1.5},
    {"when": datetime.now(UTC)},
])
def test_no_secrets_no_hkid_no_loose_types_in_details(app, details):
    with pytest.raises(audit.UnsafeAuditDetails):
        audit.record("case.viewed", details=details)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(events)) == 0


def test_ordinary_identifiers_are_not_mistaken_for_an_hkid(app):
    # The shape of an HKID with a wrong check character, and random ids, are allowed.
    audit.record("case.viewed", details={"ref": "A123456(4)", "payment": "ab1234567cd"})
    db.session.commit()
    assert audit.verify().ok
