"""The department's dashboard: backlog, weekly flow and processing time against the pledge,
as SVG charts drawn on the server, each with a table of the same figures; and the counts
on the staff home."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.applications.models import Application
from portal.applications.util import add_working_days, is_working_day, new_reference
from portal.backoffice import charts
from portal.backoffice.reports import _median, _percentile, working_days_taken
from portal.extensions import db
from portal.i18n import hong_kong_today

HK = ZoneInfo("Asia/Hong_Kong")


def _at(day, hour: int = 12, minute: int = 0) -> datetime:
    """``day`` at this Hong Kong time, as UTC."""
    return datetime.combine(day, time(hour, minute), HK).astimezone(UTC)


def _seed(citizen, *, department="TD", state="received", submitted=None, due=None,
          decided=None, assigned=None, service="test_permit") -> Application:
    application = Application(
        reference=new_reference(), user_id=citizen.id, service=service,
        department=department, state=state, answers={}, locale="en",
        submitted_at=submitted or _at(hong_kong_today()), decision_due=due,
        decided_at=decided, assigned_to_id=assigned.id if assigned else None)
    db.session.add(application)
    db.session.commit()
    return application


def _table(page: str, name: str) -> list[list[str]]:
    """The rows of the table marked ``data-test=name``, as lists of cell texts."""
    body = re.search(rf'data-test="{name}".*?<tbody[^>]*>(.*?)</tbody>', page, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _chart(page: str, chart_id: str) -> str:
    return re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', page, re.S).group(0)


def _values(svg: str) -> list[str]:
    return re.findall(r'class="portal-chart__value"[^>]*>([^<]*)<', svg)


@pytest.fixture
def citizen(create_user):
    return create_user()


@pytest.fixture
def start_day():
    """A working day about six weeks ago: inside the dashboard's twelve weeks."""
    day = hong_kong_today() - timedelta(weeks=6)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def test_the_dashboard_counts_the_departments_applications_only(
        staff_client, permit_service, citizen, start_day, create_department):
    create_department("IMMD", "Immigration Department", "入境事務處")
    today = hong_kong_today()
    due = add_working_days(start_day, 5)
    # the backlog: three received (one overdue), one unpaid (not the department's yet)
    for _n in range(2):
        _seed(citizen, due=today + timedelta(days=3))
    _seed(citizen, due=today - timedelta(days=1))
    _seed(citizen, state="awaiting_payment")
    # decided in the window: 3, 5 and 7 working days after the clock started (pledge 5)
    for days in (3, 5, 7):
        _seed(citizen, state="approved" if days != 5 else "rejected",
              submitted=_at(start_day), due=due,
              decided=_at(add_working_days(start_day, days)))
    # a withdrawal is final, but nobody decided it
    _seed(citizen, state="withdrawn", submitted=_at(start_day), due=due,
          decided=_at(start_day, 15))
    # another department's applications never appear
    for _n in range(4):
        _seed(citizen, department="IMMD", submitted=_at(start_day),
              state="approved", due=due, decided=_at(start_day, 16))

    response = staff_client("supervisor").get("/staff/reports")
    page = response.get_data(as_text=True)
    assert response.status_code == 200

    assert _table(page, "backlog-table") == [["Test permit", "3", "3", "1"]]
    assert "3 open applications." in page
    backlog_svg = _chart(page, "chart-backlog")
    assert 'role="img"' in backlog_svg
    assert 'aria-labelledby="chart-backlog-title chart-backlog-desc"' in backlog_svg
    assert '<title id="chart-backlog-title">Open applications by service</title>' in backlog_svg
    assert _values(backlog_svg) == ["3"]

    weekly = _table(page, "weekly-table")
    assert len(weekly) == 12
    received = {row[0]: (int(row[1]), int(row[2])) for row in weekly}
    week_of_start = start_day - timedelta(days=start_day.weekday())
    from portal.i18n import format_day

    assert sum(r for r, _d in received.values()) == 4 + 4  # today's 4, start day's 4
    assert received[format_day(week_of_start)][0] == 4
    assert sum(d for _r, d in received.values()) == 3
    weekly_svg = _chart(page, "chart-weekly")
    values = [int(v) for v in _values(weekly_svg)]
    assert values[0::2] == [int(row[1]) for row in weekly]  # received, week by week
    assert values[1::2] == [int(row[2]) for row in weekly]  # decided

    assert _table(page, "processing-table") == [
        ["Test permit", "3", "5", "7", "5", "67%"]]
    assert _values(_chart(page, "chart-processing")) == ["5", "7", "5"]


def test_a_week_is_a_hong_kong_week(staff_client, permit_service, citizen):
    """Monday 00:30 in Hong Kong is still Sunday in UTC: it counts in Monday's week."""
    today = hong_kong_today()
    monday = today - timedelta(days=today.weekday(), weeks=1)
    _seed(citizen, submitted=_at(monday, 0, 30), state="awaiting_payment")
    page = staff_client("supervisor").get("/staff/reports").get_data(as_text=True)
    from portal.i18n import format_day

    rows = {row[0]: row[1] for row in _table(page, "weekly-table")}
    assert rows[format_day(monday)] == "1"
    assert rows[format_day(monday - timedelta(weeks=1))] == "0"


def test_an_empty_department_gets_a_dashboard_too(staff_client, permit_service):
    response = staff_client("department_admin").get("/staff/reports")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There are no open applications." in page
    assert "No application was decided in these weeks." in page
    assert 'id="chart-backlog"' not in page
    assert set(_values(_chart(page, "chart-weekly"))) == {"0"}


def test_the_dashboard_in_chinese(staff_client, permit_service, citizen):
    _seed(citizen, due=hong_kong_today())
    client = staff_client("supervisor")
    client.get("/language/zh-hk")
    page = client.get("/staff/reports").get_data(as_text=True)
    assert 'lang="zh-HK"' in page
    assert "Test permit" in page


@pytest.mark.parametrize(("role", "department", "status"), [
    ("officer", "TD", 403), ("portal_admin", None, 403), ("supervisor", "TD", 200),
])
def test_only_supervisors_and_department_administrators_see_reports(
        staff_client, permit_service, role, department, status):
    assert staff_client(role, department).get("/staff/reports").status_code == status


def test_citizens_do_not_find_the_reports(client, create_user, sign_in):
    create_user()
    sign_in(client)
    assert client.get("/staff/reports").status_code == 404


@pytest.fixture
def waiting_service(app):
    """``test_permit`` with the usual workflow, whose ``awaiting_information`` stops the
    clock, as the only service."""
    import dataclasses

    from portal.plugins.manager import LoadedService, ServiceRegistry
    from portal.plugins.service import PAY_THEN_DECIDE
    from tests.applications.conftest import SERVICE

    registry = ServiceRegistry()
    definition = dataclasses.replace(SERVICE, workflow=PAY_THEN_DECIDE)
    registry.entries.append(LoadedService("test_permit", "tests", "0", "active", "",
                                          definition, "tests.applications"))
    saved = app.extensions["portal_services"]
    app.extensions["portal_services"] = registry
    yield definition
    app.extensions["portal_services"] = saved


def test_a_case_waiting_for_the_citizen_is_open_but_not_overdue(
        staff_client, waiting_service, citizen):
    past = hong_kong_today() - timedelta(days=3)
    _seed(citizen, state="awaiting_information", due=past)
    _seed(citizen, state="received", due=past)
    client = staff_client("supervisor")
    page = client.get("/staff/reports").get_data(as_text=True)
    assert _table(page, "backlog-table") == [["Test permit", "1", "1", "2", "1"]]
    assert "More information needed" in page
    home = client.get("/staff/").get_data(as_text=True)
    counts = re.search(r'data-test="case-counts".*?</dl>', home, re.S).group(0)
    assert [re.sub(r"\s+", "", v) for v in
            re.findall(r'govuk-summary-list__value">(.*?)</dd>', counts, re.S)] == [
        "0", "2", "1"]


# --- the staff home --------------------------------------------------------------------


def test_the_staff_home_counts_my_unassigned_and_overdue_cases(
        staff_client, permit_service, citizen):
    officer = staff_client("officer")
    today = hong_kong_today()
    _seed(citizen, due=today + timedelta(days=2), assigned=officer.user)
    _seed(citizen, due=today - timedelta(days=2), assigned=officer.user)
    _seed(citizen, due=today + timedelta(days=2))
    _seed(citizen, state="approved", due=today - timedelta(days=9), decided=_at(today))
    _seed(citizen, department="IMMD", due=today - timedelta(days=2))
    page = officer.get("/staff/").get_data(as_text=True)
    counts = re.search(r'data-test="case-counts".*?</dl>', page, re.S).group(0)
    values = [re.sub(r"\s+", "", v) for v in
              re.findall(r'govuk-summary-list__value">(.*?)</dd>', counts, re.S)]
    assert values == ["2", "1", "1"]


@pytest.mark.parametrize(("role", "department", "expected", "absent"), [
    ("officer", "TD", [], ["Reports", "Audit log", "Department settings", "Departments"]),
    ("supervisor", "TD", ["Reports"], ["Audit log", "Department settings", "Departments"]),
    ("department_admin", "TD", ["Reports", "Audit log", "Department settings"],
     ["Departments", "Staff accounts"]),
    ("portal_admin", None, ["Departments", "Staff accounts", "Installed services"],
     ["Reports", "Audit log", "Department settings"]),
])
def test_the_staff_home_links_what_the_role_may_use(staff_client, role, department,
                                                    expected, absent):
    page = staff_client(role, department).get("/staff/").get_data(as_text=True)
    links = re.search(r'data-test="staff-links".*?</ul>', page, re.S)
    texts = re.findall(r">([^<>]+)</a>", links.group(0)) if links else []
    for text in expected:
        assert text in texts
    for text in absent:
        assert text not in texts


# --- the parts ---------------------------------------------------------------------------


def test_working_days_taken_count_from_the_due_date():
    start = datetime(2026, 3, 2).date()  # a Monday with no holiday that week
    due = add_working_days(start, 5)
    assert working_days_taken(5, due, start) == 0
    assert working_days_taken(5, due, add_working_days(start, 3)) == 3
    assert working_days_taken(5, due, due) == 5
    assert working_days_taken(5, due, add_working_days(due, 2)) == 7


def test_median_and_percentile_from_counts():
    assert _median([(3, 1), (5, 1), (7, 1)]) == 5
    assert _median([(2, 1), (4, 1)]) == 3
    assert _median([(1, 9), (10, 1)]) == 1
    assert _percentile([(1, 9), (10, 1)], 0.9) == 1
    assert _percentile([(1, 8), (10, 2)], 0.9) == 10


def test_every_series_colour_has_contrast_against_white_and_its_own_pattern():
    assert all(charts.contrast_with_white(colour) >= 3 for colour, _p in charts.PALETTE)
    assert len({pattern for _c, pattern in charts.PALETTE}) == len(charts.PALETTE)


def test_chart_labels_are_escaped_and_the_chart_is_named():
    svg = charts.horizontal_bar_chart(
        "c1", title="T <b>", description="D & d", categories=["<script>x</script>", "B"],
        series=[charts.Series("s<1>", [1, 2]), charts.Series("s2", [0, 4])])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert '<title id="c1-title">T &lt;b&gt;</title>' in svg
    assert '<desc id="c1-desc">D &amp; d</desc>' in svg
    assert "s&lt;1&gt;" in svg  # the legend
    assert 'fill="url(#c1-fill-1)"' in svg  # the second series is striped
    assert _values(svg) == ["1", "0", "2", "4"]


def test_a_series_must_have_a_value_per_category():
    with pytest.raises(ValueError, match="one value per category"):
        charts.column_chart("c", title="t", description="d", categories=["a", "b"],
                            series=[charts.Series("s", [1])])


@pytest.mark.parametrize(("maximum", "top", "step"), [
    (0, 1, 1), (3, 3, 1), (7, 8, 2), (48, 50, 10), (4.5, 5, 1), (0.4, 0.4, 0.1),
])
def test_axes_end_on_a_round_number(maximum, top, step):
    assert charts.nice_scale(maximum) == pytest.approx((top, step))
