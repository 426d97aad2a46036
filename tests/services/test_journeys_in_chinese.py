"""The three services end to end in Chinese, up to payment: pages, status and email."""

from __future__ import annotations

import io

import pytest

from portal.extensions import db
from portal.testing.helpers import email_text
from services.pay_bill.demo import WATER_BILL, add_demo_bills
from tests.services.test_journeys import PNG, answer, reference_of, start, submit


@pytest.fixture
def chinese_citizen(client, create_user, sign_in):
    create_user(preferred_language="zh_Hant_HK", address_street="18 Nathan Road",
                district="yau_tsim_mong")
    sign_in(client)
    client.get("/language/zh-hk")
    return client


def _finish(client, url, smtp_sink, title_zh, fee_text):
    from portal.applications.models import Application

    html, url = submit(client, url)
    assert 'lang="zh-HK"' in html
    assert "提交申請前，請核對你的答覆" in html
    assert fee_text in html
    reference = reference_of(url)
    confirmation = client.get(url).get_data(as_text=True)
    assert "申請已提交" in confirmation
    assert reference in confirmation
    detail = client.get(f"/applications/{reference}").get_data(as_text=True)
    assert title_zh in detail
    assert "待繳費" in detail
    email = next(m for m in smtp_sink.messages if reference in m["Subject"])
    assert email["Subject"] == f"已收到你的申請：{reference}"
    assert f"「{title_zh}」" in email_text(email)
    application = db.session.scalar(db.select(Application).where(
        Application.reference == reference))
    assert application.state == "awaiting_payment"
    assert application.locale == "zh_Hant_HK"
    return application


def test_licence_renewal_in_chinese(chinese_citizen, create_department, smtp_sink):
    create_department("TD", "Transport Department", "運輸署")
    client = chinese_citizen
    start_page = client.get("/services/licence_renewal").get_data(as_text=True)
    assert "駕駛執照續期" in start_page
    url = start(client, "licence_renewal")
    url = answer(client, url, {"licence_number": "A123456(3)"})
    url = answer(client, url, {"licence_type": "full"})
    url = answer(client, url, {"validity_period": "10_years"})
    url = answer(client, url, {"photo": (io.BytesIO(PNG), "相片.png")},
                 content_type="multipart/form-data")
    url = answer(client, url, {"address_street": "18 Nathan Road", "district": "yau_tsim_mong"})
    url = answer(client, url, {"medical_condition": "no", "health_declaration": "y"})
    application = _finish(client, url, smtp_sink, "駕駛執照續期", "HK$900.00")
    assert application.fee_amount == 90_000


def test_birth_record_copies_in_chinese(chinese_citizen, create_department, smtp_sink):
    create_department("IMMD", "Immigration Department", "入境事務處")
    client = chinese_citizen
    url = start(client, "birth_record")
    url = answer(client, url, {"name_en": "CHAN Siu Ming", "name_zh": "陳小明",
                               "date_of_birth": ["27", "3", "2007"],
                               "place_of_birth": "瑪麗醫院"})
    url = answer(client, url, {"copies": "2"})
    url = answer(client, url, {"delivery_method": "post"})
    url = answer(client, url, {"address_street": "18 Nathan Road", "district": "yau_tsim_mong"})
    check = client.get(url).get_data(as_text=True)
    assert "2007年3月27日" in check
    assert "陳小明" in check
    application = _finish(client, url, smtp_sink, "申請出生登記記錄核證副本", "HK$280.00")
    assert application.fee_amount == 28_000


def test_paying_a_bill_in_chinese(chinese_citizen, create_department, smtp_sink):
    create_department("TRY", "Treasury", "庫務署")
    add_demo_bills()
    db.session.commit()
    client = chinese_citizen
    url = start(client, "pay_bill")
    url = answer(client, url, {"bill_number": WATER_BILL})
    confirm = client.get(url).get_data(as_text=True)
    assert "水務署" in confirm
    assert "HK$356.40" in confirm
    url = answer(client, url, {"confirm_payment": "y"})
    application = _finish(client, url, smtp_sink, "繳付政府賬單", "HK$356.40")
    assert application.fee_amount == 35_640
