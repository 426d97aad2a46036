"""A citizen applies for a service in a real browser, in Chinese, across two sign-ins."""

from __future__ import annotations

import re

import pytest
import segno
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.applications.models import Application, Draft, DraftStatus
from portal.extensions import db
from tests.browser.support import sign_in_citizen, submit_form, zh

pytestmark = pytest.mark.browser

SERVICE = "licence_renewal"
#: A reference: 4 + 4 + 1 characters of an alphabet without 0, O, 1, I and L.
REFERENCE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]")


def service_zh(msgid: str) -> str:
    """The Chinese text of one of the licence renewal's own messages."""
    return zh(msgid, service=SERVICE)


def _photo(tmp_path) -> str:
    """A small, real PNG file to upload."""
    path = tmp_path / "photo.png"
    segno.make("A123456(3)").save(str(path), kind="png", scale=4)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    return str(path)


def test_citizen_starts_licence_renewal_in_chinese_saves_resumes_and_submits(
    page, live_server, create_user, create_department, tmp_path
):
    """A citizen starts the licence renewal in Chinese, saves, signs out, signs in,
    resumes, submits, and sees the status."""
    create_department("TD", "Transport Department", "運輸署")
    citizen = create_user(
        "chan.tai-man@example.com",
        address_flat="Flat A, 12/F",
        address_building="Sunshine Court",
        address_street="18 Nathan Road",
        district="yau_tsim_mong",
        mobile="+85291234567",
    )
    title = service_zh("Renew a driving licence")

    # Signed in, in English; the header's switch turns the portal to Chinese.
    sign_in_citizen(page, citizen.email)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    with page.expect_navigation():
        page.locator("header").get_by_role("link", name="繁體中文").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")

    # The catalogue lists the service under its Chinese title; its start page starts it.
    page.goto("/services")
    with page.expect_navigation():
        page.locator("main").get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/services/{SERVICE}$"))
    expect(page.locator("h1")).to_have_text(title)
    with page.expect_navigation():
        page.locator(f'main form[action$="/services/{SERVICE}/apply"] button').click()

    # Step by step, each question in Chinese.
    expect(page).to_have_url(re.compile(r"/drafts/[^/]+/licence_details$"))
    draft_id = page.url.rsplit("/", 2)[-2]
    expect(page.locator("h1")).to_have_text(service_zh("Your driving licence"))
    page.get_by_label(service_zh("Driving licence number"), exact=True).fill("A123456(3)")
    submit_form(page)  # Continue

    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/licence_type$"))
    expect(page.locator("h1")).to_have_text(service_zh("Type of licence"))
    page.get_by_role("radio", name=service_zh("Full driving licence"), exact=True).check()
    submit_form(page)  # Continue

    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/validity$"))
    ten_years = service_zh("10 years: HK$%(fee)d") % {"fee": 900}
    page.get_by_role("radio", name=ten_years, exact=True).check()
    submit_form(page)  # Continue

    # The photo, then "Save and come back later".
    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/photo$"))
    expect(page.locator("h1")).to_have_text(service_zh("Your photo"))
    with page.expect_file_chooser() as chooser:
        page.get_by_label(service_zh("Upload a photo of yourself"), exact=True).click()
    chooser.value.set_files(_photo(tmp_path))
    expect(page.locator("main form")).to_contain_text("photo.png")
    with page.expect_navigation():
        page.locator('main form button[name="save"]').click()
    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/saved$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    expect(page.locator("h1")).to_have_text(zh("Your answers have been saved"))
    expect(page.locator("main")).to_contain_text(title)

    # Signing out and in again: the portal remembers the language and the draft.
    with page.expect_navigation():
        page.locator('[data-test="sign-out"]').click()
    expect(page).to_have_url(live_server + "/")
    expect(page.locator('[data-test="sign-out"]')).to_have_count(0)
    sign_in_citizen(page, citizen.email)
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    drafts = page.locator("main table").filter(has_text=title)
    expect(drafts).to_have_count(1)
    with page.expect_navigation():
        drafts.locator(f'a[href$="/drafts/{draft_id}"]').click()

    # Back at the photo, which was kept: continuing without choosing it again is fine.
    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/photo$"))
    expect(page.locator("main")).to_contain_text("photo.png")
    submit_form(page)  # Continue

    # The address comes from the profile.
    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/address$"))
    expect(page.locator("h1")).to_have_text(service_zh("Where to send your new licence"))
    expect(page.locator("#address_flat")).to_have_value("Flat A, 12/F")
    expect(page.locator("#address_building")).to_have_value("Sunshine Court")
    expect(page.locator("#address_street")).to_have_value("18 Nathan Road")
    expect(page.locator("#district")).to_have_value("yau_tsim_mong")
    submit_form(page)  # Continue

    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/health$"))
    expect(page.locator("h1")).to_have_text(service_zh("Health declaration"))
    page.get_by_role("radio", name=service_zh("No"), exact=True).check()
    page.get_by_role(
        "checkbox",
        name=service_zh(
            "I declare that I do not suffer from any disease or disability that would "
            "make me a danger when driving"
        ),
    ).check()
    submit_form(page)  # Continue

    # Check your answers: the answers as given, in Chinese, and the fee.
    expect(page).to_have_url(re.compile(rf"/drafts/{draft_id}/check$"))
    answers = page.locator("main")
    for text in (
        title,
        service_zh("Type of licence"),
        service_zh("Full driving licence"),
        ten_years,
        "A123456(3)",
        "photo.png",
        "18 Nathan Road",
        zh("Yau Tsim Mong"),
        service_zh("Health declaration"),
        "HK$900.00",
    ):
        expect(answers).to_contain_text(text)
    expect(answers).not_to_contain_text(service_zh("Probationary driving licence"))
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").click()

    # Sent: the confirmation gives the reference.
    expect(page).to_have_url(re.compile(r"/applications/[^/]+/confirmation$"))
    expect(page.locator("h1")).to_have_text(zh("Application sent"))
    reference = page.locator(".portal-reference").inner_text().strip()
    assert REFERENCE.fullmatch(reference), reference
    assert page.url.endswith(f"/applications/{reference}/confirmation")

    # The application page: its status and the fee to pay.
    with page.expect_navigation():
        page.locator(f'main a[href$="/applications/{reference}"]').click()
    expect(page).to_have_url(re.compile(rf"/applications/{reference}$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-HK")
    expect(page.locator("h1")).to_contain_text(reference)
    rows = page.locator("main .govuk-summary-list").first.locator(".govuk-summary-list__row")
    status = rows.filter(has=page.locator("dt", has_text=zh("Status")))
    expect(status.locator(".govuk-tag")).to_have_text(zh("Awaiting payment"))
    fee = rows.filter(has=page.locator("dt", has_text=zh("Fee")))
    expect(fee.locator("dd")).to_contain_text("HK$900.00")

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    application = db.session.scalar(select(Application))
    assert application.reference == reference
    assert application.user_id == citizen.id
    assert application.state == "awaiting_payment"
    assert application.fee_amount == 90_000
    assert application.locale == "zh_Hant_HK"
    draft_status = db.session.scalar(select(Draft.status).where(Draft.public_id == draft_id))
    assert draft_status == DraftStatus.SUBMITTED
