"""The catalogue lists every active service by topic and department, and finds them."""

from __future__ import annotations

import re

import pytest

from tests.catalogue.conftest import make_service


@pytest.fixture
def catalogue(install_services, test_services, create_department):
    create_department("TD", "Transport Department", "運輸署")
    return install_services(*test_services.values())


def page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def listed(html):
    """Names of the services linked from the page, in order."""
    return re.findall(r'href="/services/(test_\w+)"', html)


def test_services_are_grouped_by_topic_in_the_topics_order(client, catalogue):
    html = page(client, "/services")
    transport = html.index('id="topic-transport"')
    records = html.index('id="topic-records"')
    assert transport < records
    assert "Transport and driving" in html
    assert "Births, deaths and marriages" in html
    # only topics that have services
    assert "topic-health" not in html
    assert 'href="#topic-transport"' in html
    in_transport = listed(html[transport:records])
    assert sorted(in_transport) == ["test_bill", "test_renewal"]
    assert listed(html[records:html.index('id="departments"')]) == ["test_certificate"]


def test_each_service_shows_its_summary_and_department(client, catalogue):
    html = page(client, "/services")
    assert "Renew your test licence online before it expires." in html
    assert "From: Transport Department" in html
    # no departments row for TRO: the code stands in
    assert "From: TRO" in html


def test_browse_by_department_lists_departments_with_counts(client, catalogue):
    html = page(client, "/services")
    departments = html[html.index('id="departments"'):]
    assert 'href="/services?department=TD">Transport Department</a>' in departments
    assert "(2 services)" in departments
    assert "(1 service)" in departments


def test_the_department_filter_shows_only_its_services(client, catalogue):
    html = page(client, "/services?department=TRO")
    assert listed(html) == ["test_certificate"]
    assert "1 service<" in html
    assert "Department: TRO" in html


def test_an_unknown_department_shows_every_service(client, catalogue):
    html = page(client, "/services?department=NOPE")
    assert set(listed(html)) == {"test_renewal", "test_certificate", "test_bill"}
    assert "Department:" not in html
    assert 'name="department"' not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("renew", ["test_renewal"]),
        ("RENEW Licence", ["test_renewal"]),  # any case, every word somewhere
        ("permit", ["test_renewal"]),  # a keyword
        ("certified copy", ["test_certificate"]),  # the summary
        ("transport department", ["test_bill", "test_renewal"]),  # the department's name
        ("續期", ["test_renewal"]),  # Chinese, searched from the English page
        ("許可證", ["test_renewal"]),  # a keyword in Chinese
        ("運輸", ["test_bill", "test_renewal"]),  # part of the department's Chinese name
    ],
)
def test_search_finds_services_in_either_language(client, catalogue, query, expected):
    html = page(client, "/services", query_string={"q": query})
    assert sorted(listed(html)) == expected
    count = len(expected)
    assert f"{count} service{'s' if count > 1 else ''}" in html


def test_search_works_the_same_from_the_chinese_page(client, catalogue):
    client.get("/language/zh-hk")
    html = page(client, "/services", query_string={"q": "renew"})
    assert '<html lang="zh-HK"' in html
    assert listed(html) == ["test_renewal"]
    assert "續期測試牌照" in html
    assert "運輸署" in html
    html = page(client, "/services", query_string={"q": "續期"})
    assert listed(html) == ["test_renewal"]


def test_search_within_a_department(client, catalogue):
    html = page(client, "/services", query_string={"q": "test", "department": "TD"})
    assert sorted(listed(html)) == ["test_bill", "test_renewal"]
    assert 'name="department" value="TD"' in html


def test_no_results_says_how_to_search_better(client, catalogue):
    html = page(client, "/services", query_string={"q": "spaceship"})
    assert listed(html) == []
    assert "0 services" in html
    assert "No services match your search" in html
    assert "checking your spelling" in html
    assert 'href="/services">Browse all services by topic' in html


def test_the_search_is_shown_escaped(client, catalogue):
    html = page(client, "/services", query_string={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "No services match your search" in html


def test_control_characters_in_a_search_are_ignored(client, catalogue):
    html = page(client, "/services", query_string={"q": "re\u200bnew\x00\tlicence\x1b"})
    assert listed(html) == ["test_renewal"]
    assert "\x00" not in html
    assert "\x1b" not in html


def test_an_over_long_search_gets_an_error_and_the_catalogue(client, catalogue):
    html = page(client, "/services", query_string={"q": "a" * 101})
    assert "<title>Error:" in html
    assert "There is a problem" in html
    assert "Search words must be 100 characters or fewer" in html
    assert 'href="#q"' in html
    # nothing searched: every topic is still there to browse
    assert 'id="topic-transport"' in html


def test_a_search_of_100_characters_is_accepted(client, catalogue):
    html = page(client, "/services", query_string={"q": "x" * 100})
    assert "Error:" not in html
    assert "No services match your search" in html


def test_an_empty_search_shows_the_whole_catalogue(client, catalogue):
    html = page(client, "/services?q=")
    assert 'id="topic-transport"' in html
    assert "Search results" not in html


def test_a_disabled_service_is_not_listed(client, install_services, test_services):
    hidden = make_service("test_hidden", "Hidden test service", "Should never be listed.")
    install_services(test_services["test_renewal"], disabled=(hidden,))
    html = page(client, "/services")
    assert listed(html) == ["test_renewal"]
    assert "Hidden test service" not in html
    assert page(client, "/services", query_string={"q": "hidden"}).count("test_hidden") == 0
    assert client.get("/services/test_hidden").status_code == 404


def test_an_empty_catalogue_says_so(client, install_services):
    install_services()
    html = page(client, "/services")
    assert "No services are available yet" in html
    assert 'role="search"' not in html


def test_the_catalogue_in_chinese(client, catalogue):
    html = page(client, "/services", headers={"Accept-Language": "zh-HK"})
    assert '<html lang="zh-HK"' in html
    assert "續期測試牌照" in html
    assert "在測試牌照到期前於網上續期。" in html
    assert "運輸署" in html


def test_everyone_sees_services_in_the_navigation(client, catalogue):
    html = page(client, "/")
    assert 'class="govuk-service-navigation__link" href="/services"' in html
    html = page(client, "/services")
    assert re.search(r'href="/services" aria-current="page"', html)


def test_the_home_page_links_to_the_topics(client, catalogue):
    html = page(client, "/")
    assert 'href="/services#topic-transport">Transport and driving' in html
    assert 'href="/services#topic-records">' in html
    assert "topic-health" not in html
