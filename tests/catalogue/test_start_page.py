"""A service's start page: what it is, who can use it, what it costs and takes, Start now."""

from __future__ import annotations

import pytest

from portal.testing.helpers import csrf_token_from


@pytest.fixture
def catalogue(install_services, test_services, create_department):
    create_department("TD", "Transport Department", "運輸署")
    return install_services(*test_services.values())


def start_page(client, name, **kwargs):
    response = client.get(f"/services/{name}", **kwargs)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_the_start_page_describes_the_service(client, catalogue):
    html = start_page(client, "test_renewal")
    assert '<h1 class="govuk-heading-xl">Renew a test licence</h1>' in html
    assert "<title>Renew a test licence –" in html
    assert "Renew your test licence online before it expires." in html
    assert "From: Transport Department" in html
    assert "Who can use this service" in html
    assert "You must hold a test licence that expires within 4 months." in html
    assert "What you need" in html
    assert "<li>your licence number</li>" in html
    assert "<li>a photo of yourself</li>" in html
    assert "HK$900 for 10 years" in html
    assert "We aim to decide within 10 working days." in html


def test_breadcrumbs_lead_back_to_the_catalogue(client, catalogue):
    html = start_page(client, "test_renewal")
    crumbs = html[html.index('class="govuk-breadcrumbs'):html.index("</nav>", html.index("govuk-breadcrumbs"))]
    assert 'href="/">Home</a>' in crumbs
    assert 'href="/services">Services</a>' in crumbs
    assert 'aria-current="page">Renew a test licence' in crumbs


def test_start_now_posts_with_a_csrf_token_to_the_application(client, catalogue):
    html = start_page(client, "test_renewal")
    form = html[html.index('<form method="post" action="/services/test_renewal/apply"'):]
    form = form[:form.index("</form>")]
    assert csrf_token_from(form)
    assert 'class="govuk-button govuk-button--start"' in form
    assert "Start now" in form
    assert "govuk-button__start-icon" in form
    assert "You will be asked to sign in" in html


def test_a_staff_member_is_told_to_use_a_personal_account(client, catalogue, create_staff,
                                                          sign_in_staff):
    sign_in_staff(client, create_staff())
    html = start_page(client, "test_renewal")
    assert "/services/test_renewal/apply" not in html
    assert "signed in with a staff account" in html


def test_a_fixed_fee_without_a_summary_is_shown_as_an_amount(client, catalogue):
    html = start_page(client, "test_certificate")
    assert "HK$140.00" in html
    # no departments row for TRO: its code stands in
    assert "From: TRO" in html
    assert "Who can use this service" not in html
    assert "What you need" not in html


def test_a_fee_that_depends_on_the_answers_says_so(client, catalogue):
    html = start_page(client, "test_bill")
    assert "The fee depends on your answers" in html


def test_a_free_service_says_free(client, install_services):
    from tests.catalogue.conftest import make_service

    install_services(make_service("test_free", "Register a test pet", "Register your pet."))
    html = start_page(client, "test_free")
    fee = html[html.index('data-test="fee"'):]
    assert fee[:fee.index("</p>")].split(">", 1)[1].strip() == "Free"


def test_the_pledge_is_in_working_days_with_the_right_plural(client, catalogue):
    assert "We aim to decide within 1 working day." in start_page(client, "test_certificate")
    # decided by no one: the application completes (here, on payment)
    html = start_page(client, "test_bill")
    pledge = html[html.index('data-test="pledge"'):]
    pledge = pledge[:pledge.index("</p>")]
    assert "We aim to complete your application within 2 working days." in pledge
    assert "decide" not in pledge


def test_the_services_own_start_content_is_included(client, catalogue):
    html = start_page(client, "test_renewal")
    assert "Bring your old licence if we ask for it." in html
    assert 'class="govuk-inset-text"' in html
    assert '<p id="context">test_renewal en</p>' in html


def test_the_start_page_in_chinese(client, catalogue):
    client.get("/language/zh-hk")
    html = start_page(client, "test_renewal")
    assert '<html lang="zh-HK"' in html
    assert '<h1 class="govuk-heading-xl">續期測試牌照</h1>' in html
    assert "在測試牌照到期前於網上續期。" in html
    assert "運輸署" in html
    assert "你必須持有將於4個月內到期的測試牌照。" in html
    assert "<li>你的牌照號碼</li>" in html
    assert "10年港幣900元" in html
    # the service's start.html in its own catalogue
    assert "如我們要求，請帶備舊牌照。" in html
    assert "2 份文件" in html
    assert '<p id="context">test_renewal zh_Hant_HK</p>' in html


@pytest.mark.parametrize("name", ["no_such_service", "test_hidden", "TEST_RENEWAL", "..%2F"])
def test_an_unknown_service_is_not_found(client, catalogue, name):
    assert client.get(f"/services/{name}").status_code == 404
