"""Every page in the visitor's language; the switch keeps them on the same page."""

from __future__ import annotations

import pytest

from portal.i18n import format_hkd, locale_from_accept_language
from portal.testing.helpers import post_form


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-HK", "zh_Hant_HK"),
        ("zh-TW,zh;q=0.9", "zh_Hant_HK"),
        ("zh-Hant", "zh_Hant_HK"),
        ("zh", "zh_Hant_HK"),
        ("en-GB,en;q=0.9,zh-HK;q=0.5", "en"),
        ("fr-FR,zh-HK;q=0.8", "zh_Hant_HK"),
        ("zh-CN", "en"),
        ("", "en"),
    ],
)
def test_first_visit_follows_accept_language(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header} if header else {})
    lang = "zh-HK" if expected == "zh_Hant_HK" else "en"
    assert f'<html lang="{lang}"' in response.get_data(as_text=True)


def test_accept_language_parsing_order():
    assert locale_from_accept_language([("de", 1.0), ("zh-mo", 0.5)]) == "zh_Hant_HK"


@pytest.mark.parametrize(
    "url", ["/", "/sign-in", "/register", "/help", "/accessibility", "/privacy", "/cookies",
            "/password/forgotten", "/confirm-email/resend", "/no-such-page"]
)
def test_public_pages_are_in_chinese_with_no_english_left(client, url):
    client.get("/language/zh-hk")
    page = client.get(url).get_data(as_text=True)
    assert '<html lang="zh-HK"' in page
    assert "香港數碼服務平台" in page
    for english in ("Sign in", "Create an account", "Skip to main content", "Help"):
        assert english not in page, (url, english)


def test_the_language_switch_keeps_you_on_the_same_page(client):
    response = client.get("/language/zh-hk?next=/help")
    assert response.headers["Location"] == "/help"
    assert '<html lang="zh-HK"' in client.get("/help").get_data(as_text=True)
    page = client.get("/help").get_data(as_text=True)
    assert 'href="/language/en?next=/help"' in page


def test_the_language_switch_refuses_to_leave_the_portal(client):
    response = client.get("/language/zh-hk?next=https://elsewhere.example/")
    assert response.headers["Location"] == "/"


def test_the_choice_is_saved_in_the_profile(client, create_user, sign_in, app):
    user = create_user()
    sign_in(client)
    client.get("/language/zh-hk?next=/dashboard")
    from portal.extensions import db

    db.session.refresh(user)
    assert user.preferred_language == "zh_Hant_HK"
    # A new browser signs in and gets Chinese from the profile.
    other = app.test_client()
    sign_in(other)
    assert '<html lang="zh-HK"' in other.get("/dashboard").get_data(as_text=True)


def test_error_summary_and_messages_are_translated(client):
    client.get("/language/zh-hk")
    page = post_form(client, "/sign-in", {}).get_data(as_text=True)
    assert "<title>錯誤：" in page
    assert "出現問題" in page or "有問題" in page


def test_money_is_formatted_for_each_locale():
    assert format_hkd(90000, "en") == "HK$900.00"
    assert format_hkd(123456789, "zh_Hant_HK") == "HK$1,234,567.89"
    with pytest.raises(TypeError):
        format_hkd(9.5, "en")  # type: ignore[arg-type]


def test_dates_are_formatted_for_each_locale(app):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from flask_babel import force_locale

    from portal.i18n import format_day

    moment = datetime(2026, 11, 24, 20, 0, tzinfo=ZoneInfo("UTC"))
    with app.test_request_context("/"):
        with force_locale("en"):
            assert format_day(moment) == "25 November 2026"
        with force_locale("zh_Hant_HK"):
            assert format_day(moment) == "2026年11月25日"


def test_an_email_in_another_language_does_not_change_the_page_language(app):
    from flask import render_template_string

    from portal.notifications.outbox import render_email

    # A fresh application context each, as every real request gets (Flask-Babel keeps the
    # locale in ``g``).
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string("{{ _('Sign in') }}") == "Sign in"
        subject, text, _html = render_email("identity/password_changed", "zh_Hant_HK",
                                            name="陳大文", reset_link="http://x/")
        assert "密碼" in subject
        assert render_template_string("{{ _('Sign in') }}") == "Sign in"
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "zh-HK"}):
        assert render_template_string("{{ _('Sign in') }}") == "登入"
        subject, _text, _html = render_email("identity/password_changed", "en",
                                             name="CHAN", reset_link="http://x/")
        assert subject == "Your password has been changed"
        assert render_template_string("{{ _('Sign in') }}") == "登入"


@pytest.mark.parametrize(("lang", "prefix"), [("en", "Error:"), ("zh-hk", "錯誤:")])
def test_field_errors_are_announced_in_the_page_language(client, lang, prefix):
    client.get(f"/language/{lang}")
    page = post_form(client, "/register", {"email": "not-an-email", "preferred_language": "xx"})
    page = page.get_data(as_text=True)
    # Text, radio and password fields alike carry the hidden prefix screen readers read.
    assert page.count(f'<span class="govuk-visually-hidden">{prefix}</span>') >= 4
    if lang != "en":
        assert '<span class="govuk-visually-hidden">Error:</span>' not in page


def test_the_development_mailbox_names_statuses_in_chinese(client, app, monkeypatch):
    from portal.extensions import db
    from portal.notifications.outbox import queue_email

    monkeypatch.setitem(app.config, "ENVIRONMENT", "development")
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "mailbox")
    queue_email(recipient="x@example.com", kind="identity/password_changed", locale="en",
                name="CHAN", reset_link="http://x/")
    db.session.commit()
    client.get("/language/zh-hk")
    page = client.get("/dev/mailbox").get_data(as_text=True)
    assert "已發送" in page
    assert ">sent<" not in page


def test_the_switch_on_a_form_shown_again_with_errors_returns_to_the_form(client):
    page = post_form(client, "/sign-in", {}).get_data(as_text=True)
    assert 'href="/language/zh-hk?next=/sign-in"' in page


def test_the_switch_on_an_error_page_of_a_post_only_route_goes_home(client, create_user, sign_in):
    create_user()
    sign_in(client)
    page = client.post("/sign-out").get_data(as_text=True)  # no CSRF token: 400 page
    assert 'href="/language/zh-hk?next=/"' in page


def test_an_unknown_language_changes_nothing(client):
    response = client.get("/language/klingon?next=/help")
    assert response.headers["Location"] == "/help"
    assert '<html lang="en"' in client.get("/help").get_data(as_text=True)
