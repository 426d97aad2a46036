"""The department's work queue: only its own open cases, filtered, searched, counted and
paged by due date; bulk assignment that never overwrites someone else's change; the CSV
export of what the filters select."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import event, select

from portal.applications.models import Application, ApplicationEvent
from portal.applications.util import new_reference
from portal.audit.models import AuditEvent
from portal.backoffice import casework, queue
from portal.extensions import db
from portal.i18n import hong_kong_today
from portal.plugins.service import PAY_THEN_DECIDE
from portal.testing.helpers import csrf_token_from

TODAY = hong_kong_today()
_submitted = count()


@pytest.fixture
def citizen(create_user):
    return create_user("citizen@example.com")


@pytest.fixture
def make_case(citizen):
    """``make_case(state, due_in_days, **columns)``: an application written directly."""

    def make(state: str = "received", due: int | None = 3, *, service: str = "licence_renewal",
             department: str = "TD", name: str = "CHAN Tai Man 陳大文",
             assignee=None, commit: bool = True) -> Application:
        application = Application(
            reference=new_reference(), user_id=citizen.id, service=service,
            department=department, state=state, answers={}, locale="en",
            decision_due=TODAY + timedelta(days=due) if due is not None else None,
            applicant_name=name, assigned_to_id=assignee.id if assignee else None)
        db.session.add(application)
        if commit:
            db.session.commit()
        return application

    return make


def _references(page: str) -> list[str]:
    return re.findall(r'<tr class="govuk-table__row" data-reference="([^"]+)"', page)


def _scope(user_id=None, **workflows) -> queue.Scope:
    return queue.Scope(department="TD",
                       workflows=workflows or {"licence_renewal": PAY_THEN_DECIDE},
                       user_id=user_id, today=TODAY)


# --- what the queue shows ------------------------------------------------------------


def test_the_queue_shows_the_departments_open_work_earliest_due_first(staff_client,
                                                                       make_case):
    officer = staff_client("officer")
    later = make_case(due=9)
    overdue = make_case(due=-2)
    waiting = make_case("awaiting_information", due=-5)
    undated = make_case(due=None)
    make_case("awaiting_payment", due=None)
    make_case("approved", due=-30)
    make_case(department="IMMD", service="birth_record", due=1)

    response = officer.get("/staff/queue")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _references(page) == [waiting.reference, overdue.reference, later.reference,
                                 undated.reference]
    assert f'href="/staff/cases/{overdue.reference}"' in page
    # Overdue and waiting are said in words, not colour alone; a waiting case is not late.
    assert page.count('data-test="overdue"') == 1
    assert page.count('data-test="waiting"') == 1
    assert "Renew a driving licence" in page
    assert "CHAN Tai Man 陳大文" in page
    assert 'data-test="bulk-assign"' not in page  # an officer does not assign
    assert 'data-test="queue-export"' not in page


@pytest.fixture
def two_services(make_case, create_staff):
    me = create_staff("me@example.com", role="supervisor")
    other = create_staff("other@example.com", role="officer")
    cases = {
        "mine_overdue": make_case(due=-1, assignee=me),
        "mine_soon": make_case(due=2, assignee=me),
        "other_later": make_case(due=20, assignee=other),
        "unassigned_today": make_case(due=0),
        "waiting_overdue": make_case("awaiting_information", due=-3),
        "second_service": make_case(service="permits", due=4),
        "approved": make_case("approved", due=-10, assignee=me),
    }
    scope = _scope(me.id, licence_renewal=PAY_THEN_DECIDE, permits=PAY_THEN_DECIDE)
    return scope, cases


@pytest.mark.parametrize(("filters", "expected"), [
    (queue.Filters(), ["waiting_overdue", "mine_overdue", "unassigned_today", "mine_soon",
                       "second_service", "other_later"]),
    (queue.Filters(service="permits"), ["second_service"]),
    (queue.Filters(state="approved"), ["approved"]),
    (queue.Filters(state="awaiting_information"), ["waiting_overdue"]),
    (queue.Filters(assigned=queue.ASSIGNED_TO_ME), ["mine_overdue", "mine_soon"]),
    (queue.Filters(assigned=queue.UNASSIGNED),
     ["waiting_overdue", "unassigned_today", "second_service"]),
    # Overdue: past the due date and not waiting for the applicant (the clock is paused).
    (queue.Filters(due=queue.OVERDUE), ["mine_overdue"]),
    (queue.Filters(due=queue.DUE_SOON, days=2), ["unassigned_today", "mine_soon"]),
    (queue.Filters(due=queue.DUE_SOON, days=4, service="licence_renewal"),
     ["unassigned_today", "mine_soon"]),
    (queue.Filters(assigned=queue.ASSIGNED_TO_ME, due=queue.OVERDUE), ["mine_overdue"]),
])
def test_each_filter_selects_its_cases(two_services, filters, expected):
    scope, cases = two_services
    names = {case.id: name for name, case in cases.items()}
    page = queue.fetch_page(scope, filters)
    assert [names[row.id] for row in page.rows] == expected


def test_counts_come_from_one_query_over_the_open_work(two_services):
    scope, _cases = two_services
    statements = []

    def seen(*args):
        statements.append(args[2])

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        totals = queue.counts(scope, days=2)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert totals == queue.Counts(open=6, mine=2, unassigned=3, overdue=1, due_soon=2,
                                  waiting=1)
    assert queue.counts(scope, service="permits") == queue.Counts(
        open=1, mine=0, unassigned=1, overdue=0, due_soon=1, waiting=0)


def test_the_page_shows_the_counts(staff_client, make_case):
    officer = staff_client("officer")
    make_case(due=-1, assignee=officer.user)
    make_case(due=1)
    make_case("awaiting_information", due=1)
    page = officer.get("/staff/queue").get_data(as_text=True)
    found = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert found == {"open": "3", "mine": "1", "unassigned": "2", "overdue": "1",
                     "due_soon": "1", "waiting": "1"}


# --- search -------------------------------------------------------------------------


def test_a_reference_is_found_however_typed_and_in_any_state(staff_client, make_case):
    officer = staff_client("officer")
    decided = make_case("approved", due=-40)
    make_case(due=1)
    typed = decided.reference.lower().replace("-", " ")
    page = officer.get("/staff/queue", query_string={"q": f"  {typed} "}).get_data(as_text=True)
    assert _references(page) == [decided.reference]


def test_the_applicant_is_found_by_part_of_a_chinese_or_english_name(staff_client, make_case):
    officer = staff_client("officer")
    chan = make_case(name="CHAN Tai Man 陳大文")
    lee = make_case(name="LEE Siu Ming 李小明")
    wong = make_case(name="WONG 50% Off_Ltd")
    assert _references(officer.get("/staff/queue?q=大文").get_data(as_text=True)) == [
        chan.reference]
    assert _references(officer.get("/staff/queue?q=siu+ming").get_data(as_text=True)) == [
        lee.reference]
    # LIKE's wildcards are matched as themselves.
    assert _references(officer.get("/staff/queue?q=n%25").get_data(as_text=True)) == []
    assert _references(officer.get("/staff/queue?q=a_").get_data(as_text=True)) == []
    assert _references(officer.get("/staff/queue?q=f_l").get_data(as_text=True)) == [
        wong.reference]


@pytest.mark.parametrize(("args", "message"), [
    ({"state": "bogus"}, "Choose a status from the list"),
    ({"service": "birth_record"}, "Choose a service from the list"),
    ({"assigned": "everyone"}, "Choose who the cases are assigned to from the list"),
    ({"due": "soon", "days": "0"}, "Enter a whole number of days from 1 to 365"),
    ({"due": "soon", "days": "abc"}, "Enter a whole number of days from 1 to 365"),
    ({"due": "soon", "days": ""}, "Enter the number of days"),
    ({"q": "a"}, "Enter at least 2 characters of the name, or a whole reference"),
    ({"q": "x" * 101}, "Answer must be 100 characters or fewer"),
])
def test_bad_filter_values_get_an_error_and_no_cases(staff_client, make_case, args, message):
    officer = staff_client("officer")
    make_case()
    response = officer.get("/staff/queue", query_string=args)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "There is a problem" in page
    assert message in page
    assert 'data-test="queue-invalid"' in page
    assert not _references(page)


# --- pages ---------------------------------------------------------------------------


def _many(make_case, how_many: int) -> list[Application]:
    # Groups of equal due dates (the id breaks the tie) and some without a date.
    cases = [make_case(due=(i % 7) - 3 if i % 10 else None, commit=False)
             for i in range(how_many)]
    db.session.commit()
    return sorted(cases, key=lambda c: (c.decision_due is None, c.decision_due, c.id))


def test_pages_run_forward_and_back_over_every_case_once(make_case):
    expected = [case.id for case in _many(make_case, 130)]
    scope = _scope()
    pages, cursor = [], None
    while True:
        page = queue.fetch_page(scope, queue.Filters(), cursor)
        pages.append([row.id for row in page.rows])
        if page.next is None:
            break
        cursor = page.next
    assert [len(ids) for ids in pages] == [50, 50, 30]
    assert [row_id for ids in pages for row_id in ids] == expected
    # And back again, from the last page, through the same pages.
    back = [pages[-1]]
    while page.previous is not None:
        page = queue.fetch_page(scope, queue.Filters(), page.previous)
        back.append([row.id for row in page.rows])
    assert list(reversed(back)) == pages


def test_the_next_link_pages_on_and_a_tampered_cursor_starts_again(staff_client, make_case):
    officer = staff_client("officer")
    expected = [case.reference for case in _many(make_case, 60)]
    first = officer.get("/staff/queue").get_data(as_text=True)
    assert _references(first) == expected[:50]
    next_url = re.search(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" '
                         r'rel="next"', first).group(1).replace("&amp;", "&")
    second = officer.get(next_url).get_data(as_text=True)
    assert _references(second) == expected[50:]
    assert 'rel="prev"' in second
    token = next_url.split("cursor=")[1]
    for forged in (token[:-2] + "xx", "abc", "W10", "x" * 500):
        response = officer.get("/staff/queue", query_string={"cursor": forged})
        assert response.status_code == 200
        assert _references(response.get_data(as_text=True)) == expected[:50]


# --- who may see it --------------------------------------------------------------------


def test_other_departments_see_none_of_these_cases(staff_client, make_case):
    make_case()
    outsider = staff_client("supervisor", "IMMD")
    page = outsider.get("/staff/queue").get_data(as_text=True)
    assert 'data-test="queue-empty"' in page
    assert outsider.get("/staff/queue.csv").get_data(as_text=True).count("\n") == 1


def test_citizens_and_portal_administrators_are_refused(staff_client, client, sign_in,
                                                        citizen):
    admin = staff_client("portal_admin", None)
    assert admin.get("/staff/queue").status_code == 403
    assert admin.get("/staff/queue.csv").status_code == 403
    sign_in(client)
    assert client.get("/staff/queue").status_code == 404
    assert client.get("/staff/queue.csv").status_code == 404


# --- bulk assignment --------------------------------------------------------------------


def _assign(client, page: str, values: list[str], assignee: str):
    return client.post("/staff/queue/assign", data={
        "csrf_token": csrf_token_from(page), "cases": values, "assignee": assignee,
        "view": "assigned=unassigned"})


def test_bulk_assignment_assigns_what_is_unchanged_and_names_who_has_the_rest(
        staff_client, make_case, create_staff):
    supervisor = staff_client("supervisor")
    officer = create_staff("lee@example.com", name_en="LEE Ka Yan", name_zh="李嘉欣")
    rival = create_staff("wong@example.com", role="supervisor", name_en="WONG Mei")
    free, also_free, contested = make_case(), make_case(), make_case()
    foreign = make_case(department="IMMD", service="birth_record")
    page = supervisor.get("/staff/queue").get_data(as_text=True)
    assert 'data-test="bulk-assign"' in page
    assert "LEE Ka Yan" in page

    # Another supervisor gives one of them away while this page is open.
    casework.assign(contested, rival, by=rival, expected=None)
    db.session.commit()
    values = [f"{case.reference}:" for case in (free, also_free, contested, foreign)]
    response = _assign(supervisor, page, values, str(officer.id))
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/queue?assigned=unassigned"
    result = supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 cases assigned to LEE Ka Yan." in result
    assert (f"1 case was not assigned because someone else changed it meanwhile: "
            f"{contested.reference} (now with WONG Mei)") in result
    assert "1 case was not assigned because it is not one of your department" in result

    db.session.expire_all()
    holders = {a.reference: a.assigned_to_id for a in db.session.scalars(select(Application))}
    assert holders == {free.reference: officer.id, also_free.reference: officer.id,
                       contested.reference: rival.id, foreign.reference: None}
    audited = db.session.scalars(select(AuditEvent.target_id).where(
        AuditEvent.action == "case.assigned", AuditEvent.actor_id == supervisor.user.id)).all()
    assert sorted(audited) == sorted([free.reference, also_free.reference])
    assert db.session.scalar(select(ApplicationEvent).where(
        ApplicationEvent.application_id == free.id, ApplicationEvent.action == "assigned"))


def test_bulk_assignment_can_give_cases_back_to_the_unassigned_pile(staff_client, make_case,
                                                                    create_staff):
    supervisor = staff_client("supervisor")
    officer = create_staff("lee@example.com")
    case = make_case(assignee=officer)
    page = supervisor.get("/staff/queue").get_data(as_text=True)
    response = _assign(supervisor, page, [f"{case.reference}:{officer.id}"], "unassigned")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Application, case.id).assigned_to_id is None


def test_bulk_assignment_leaves_closed_cases_alone(staff_client, make_case, create_staff):
    supervisor = staff_client("supervisor")
    officer = create_staff("lee@example.com", name_en="LEE Ka Yan")
    open_case, approved = make_case(), make_case("approved")
    page = supervisor.get("/staff/queue").get_data(as_text=True)
    response = _assign(supervisor, page, [f"{open_case.reference}:", f"{approved.reference}:"],
                       str(officer.id))
    result = supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 case assigned to LEE Ka Yan." in result
    assert f"1 case was not assigned because it is closed: {approved.reference}." in result
    db.session.expire_all()
    assert db.session.get(Application, approved.id).assigned_to_id is None
    assert db.session.get(Application, open_case.id).assigned_to_id == officer.id


@pytest.mark.parametrize(("values", "assignee", "message"), [
    ([], "", "Select at least one case to assign"),
    (["{ref}:"], "", "Choose who to assign the selected cases to"),
    (["{ref}:"], "999999", "Choose someone from the list"),
])
def test_bulk_assignment_without_cases_or_a_person_gets_an_error(
        staff_client, make_case, values, assignee, message):
    supervisor = staff_client("supervisor")
    case = make_case()
    page = supervisor.get("/staff/queue").get_data(as_text=True)
    response = _assign(supervisor, page, [v.format(ref=case.reference) for v in values],
                       assignee)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>Error:" in body
    assert "There is a problem" in body
    assert message in body
    assert _references(body) == [case.reference]  # the queue is still there to choose from
    db.session.expire_all()
    assert db.session.get(Application, case.id).assigned_to_id is None


def test_an_officer_may_not_assign_in_bulk(staff_client, make_case):
    officer = staff_client("officer")
    case = make_case()
    page = officer.get("/staff/").get_data(as_text=True)
    response = _assign(officer, page, [f"{case.reference}:"], str(officer.user.id))
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Application, case.id).assigned_to_id is None


# --- CSV ----------------------------------------------------------------------------


def test_the_export_holds_every_matching_case_safe_for_spreadsheets(staff_client, make_case):
    supervisor = staff_client("supervisor")
    cases = _many(make_case, 55)
    formula = make_case(due=-1, name="=HYPERLINK(\"http://evil\")", assignee=supervisor.user)
    make_case("approved")
    response = supervisor.get("/staff/queue.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Reference", "Service", "Applicant", "Status", "Submitted", "Due",
                       "Overdue", "Assigned to"]
    assert len(rows) == 1 + 56  # every page's cases, not the decided one
    line = next(row for row in rows if row[0] == formula.reference)
    assert line[2] == "'=HYPERLINK(\"http://evil\")"
    assert line[5] == (TODAY - timedelta(days=1)).isoformat()
    assert line[6] == "Yes"
    assert line[7] == supervisor.user.name_en
    assert any(row[2] == "CHAN Tai Man 陳大文" for row in rows)
    assert {row[0] for row in rows[1:]} == {c.reference for c in [*cases, formula]}

    db.session.expire_all()
    exported = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "queue.exported"))
    assert exported.actor_id == supervisor.user.id
    assert exported.department == "TD"
    assert exported.details["rows"] == 56
    assert exported.details["filters"]["assigned"] is None


def test_the_export_uses_the_filters_and_refuses_bad_ones(staff_client, make_case):
    supervisor = staff_client("supervisor")
    overdue = make_case(due=-2)
    make_case(due=3)
    rows = supervisor.get("/staff/queue.csv?due=overdue").get_data(as_text=True).splitlines()
    assert len(rows) == 2
    assert rows[1].startswith(overdue.reference)
    response = supervisor.get("/staff/queue.csv?days=-1&due=soon")
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)


def test_an_officer_may_not_export(staff_client, make_case):
    officer = staff_client("officer")
    make_case()
    assert officer.get("/staff/queue.csv").status_code == 403
    assert db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "queue.exported")) is None


def test_cells_that_would_run_as_formulas_are_quoted():
    from portal.backoffice.queue_views import safe_cell

    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("陳大文") == "陳大文"
    assert safe_cell(None) == ""


def test_the_queue_and_its_export_work_in_chinese(staff_client, make_case):
    supervisor = staff_client("supervisor")
    case = make_case(due=-1)
    supervisor.get("/language/zh-hk")
    page = supervisor.get("/staff/queue").get_data(as_text=True)
    assert 'lang="zh-HK"' in page
    assert "運輸署" in page
    assert _references(page) == [case.reference]
    body = supervisor.get("/staff/queue.csv").get_data().decode("utf-8-sig")
    assert body.splitlines()[1].startswith(case.reference)


def test_a_bulk_assignment_without_the_csrf_token_changes_nothing(staff_client, make_case):
    supervisor = staff_client("supervisor")
    case = make_case()
    response = supervisor.post("/staff/queue/assign", data={
        "cases": [f"{case.reference}:"], "assignee": str(supervisor.user.id)})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Application, case.id).assigned_to_id is None
