"""Department administrators read their department's audit log, and only theirs; reading
it is recorded too, and a row that no longer matches the chain is marked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.applications.util import new_reference
from portal.audit import log as audit
from portal.audit.models import AuditEvent
from portal.backoffice import audit_views
from portal.extensions import db
from portal.i18n import hong_kong_today

URL = "/staff/audit"


def _shown(page: str) -> list[int]:
    """Ids of the events in the table, in the order shown."""
    return [int(n) for n in re.findall(r'<tr class="govuk-table__row" data-event="(\d+)"', page)]


def _record(action: str, department: str | None, actor=None, target=None, **details) -> int:
    event_id = audit.record(action, actor=actor, target=target, department=department,
                            details=details)
    db.session.commit()
    return event_id


@pytest.fixture
def reader(staff_client):
    return staff_client("department_admin")


def test_the_log_shows_the_departments_events_newest_first(reader, create_staff):
    officer = create_staff()
    ours = [_record("case.claimed", "TD", actor=officer, target=("applications", "K7MX-4P9Q-R")),
            _record("refund.requested", "TD", actor=officer, amount=500)]
    theirs = _record("case.claimed", "IMMD", target=("applications", "ABCD-EFGH-J"))
    portal_wide = _record("staff.created", None)
    response = reader.get(URL)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    shown = _shown(page)
    assert shown[:2] == ours[::-1]  # (then the reader's own sign-in)
    assert theirs not in shown
    assert portal_wide not in shown
    assert "ABCD-EFGH-J" not in page
    assert "Case claimed" in page
    assert "Refund asked for" in page
    assert "CHAN Tai Man" in page
    assert "Officer" in page
    assert 'href="/staff/cases/K7MX-4P9Q-R"' in page
    assert "amount</span>: 500" in page
    assert "Does not match the chain" not in page


def test_reading_the_log_is_recorded(reader):
    reader.get(URL, query_string={"action": "case.*"})
    db.session.expire_all()
    [event] = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "audit.viewed")).all()
    assert (event.department, event.actor_ref) == ("TD", reader.user.id)
    assert event.details == {"filters": {"action": "case.*"}, "after": None, "shown": 0}
    # the next reading shows the first
    assert "Audit log read" in reader.get(URL).get_data(as_text=True)


def test_filters_narrow_the_events(reader, create_staff):
    officer = create_staff()
    supervisor = create_staff("supervisor@example.com", role="supervisor", name_en="LEE Siu Ming")
    reference = new_reference()
    claimed = _record("case.claimed", "TD", actor=officer, target=("applications", reference))
    assigned = _record("case.assigned", "TD", actor=supervisor,
                       target=("applications", reference))
    refund = _record("refund.requested", "TD", actor=officer)

    def shown(**query):
        page = reader.get(URL, query_string=query).get_data(as_text=True)
        assert "govuk-error-summary" not in page
        return set(_shown(page))

    assert shown(action="case.*") == {claimed, assigned}
    assert shown(action="refund.requested") == {refund}
    assert shown(actor=str(supervisor.id)) == {assigned}
    assert shown(target=reference.replace("-", "").lower()) == {claimed, assigned}
    today = hong_kong_today()
    day = [str(today.day), str(today.month), str(today.year)]
    assert {claimed, assigned, refund} <= shown(date_from=day, date_to=day)
    yesterday = today - timedelta(days=1)
    assert shown(date_to=[str(yesterday.day), str(yesterday.month),
                          str(yesterday.year)]) == set()


@pytest.mark.parametrize(("query", "message"), [
    ({"date_from": ["31", "2", "2026"]}, "Enter a real date, for example 27 3 2007"),
    ({"date_from": ["1", "3", "2026"], "date_to": ["1", "2", "2026"]},
     "The end date must be the same as or after the start date"),
    ({"target": "<script>"}, "Enter a reference or id using letters, digits and dashes only"),
    ({"action": "nonsense"}, "Select an option from the list"),
    ({"actor": "999999"}, "Select an option from the list"),
])
def test_bad_filters_get_an_error_summary(reader, query, message):
    page = reader.get(URL, query_string=query).get_data(as_text=True)
    assert "<title>Error:" in page
    assert "govuk-error-summary" in page
    assert message in page
    assert "Correct the filters to see the events." in page
    if "target" in query:  # shown again as typed, escaped
        assert 'value="&lt;script&gt;"' in page


def test_pages_follow_one_another_without_gaps(reader, monkeypatch):
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 2)
    ids = [_record("case.claimed", "TD", n=n) for n in range(5)]
    seen: list[int] = []
    url = URL + "?action=case.claimed"
    while url:
        page = reader.get(url).get_data(as_text=True)
        seen += _shown(page)
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == ids[::-1]


def test_an_altered_row_is_marked(reader):
    event_id = _record("refund.requested", "TD", amount=500)
    db.session.execute(update(AuditEvent).where(AuditEvent.id == event_id)
                       .values(details={"amount": 5}))
    db.session.commit()
    page = reader.get(URL).get_data(as_text=True)
    assert "Does not match the chain" in page
    assert 'data-test="chain-broken"' in page


@pytest.mark.parametrize(("role", "department"), [
    ("officer", "TD"), ("supervisor", "TD"), ("portal_admin", None),
])
def test_only_department_administrators_read_the_log(staff_client, role, department):
    assert staff_client(role, department).get(URL).status_code == 403
    db.session.expire_all()
    assert db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "audit.viewed")).all() == []


def test_citizens_do_not_find_the_log(client, create_user, sign_in):
    create_user()
    sign_in(client)
    assert client.get(URL).status_code == 404


def test_the_log_in_chinese(reader):
    reader.get("/language/zh-hk")
    page = reader.get(URL).get_data(as_text=True)
    assert 'lang="zh-HK"' in page
