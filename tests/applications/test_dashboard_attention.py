"""The dashboard puts what the citizen must do first: requests to answer, fees to pay."""

from __future__ import annotations

from tests.applications.test_information_requests import make_case


def _attention(page: str) -> str:
    start = page.index('data-test="attention"')
    return page[start:page.index("</section>", start)]


def test_the_dashboard_lists_requests_to_answer_and_fees_to_pay(client, create_user, sign_in):
    citizen = create_user()
    sign_in(client)
    asked = make_case(citizen)
    unpaid = make_case(citizen, state="awaiting_payment", asked=None, fee_amount=12_500,
                       decision_due=None)
    being_processed = make_case(citizen, state="received", asked=None)
    someone_elses = make_case(create_user("other@example.com"))

    page = client.get("/dashboard").get_data(as_text=True)
    attention = _attention(page)
    assert page.index("Needs your attention") < page.index("Sent applications")
    assert "1 request for more information to answer" in attention
    assert "1 fee to pay" in attention
    assert f'href="/applications/{asked.reference}/reply"' in attention
    assert f'href="/applications/{unpaid.reference}"' in attention
    assert "Pay HK$125.00" in attention
    assert attention.index(asked.reference) < attention.index(unpaid.reference)
    assert being_processed.reference not in attention
    assert someone_elses.reference not in page


def test_nothing_needs_attention_once_answered_or_when_nothing_is_due(client, create_user,
                                                                      sign_in):
    from portal.applications import replies
    from portal.extensions import db

    citizen = create_user()
    sign_in(client)
    asked = make_case(citizen)
    make_case(citizen, state="received", asked=None)
    make_case(citizen, state="awaiting_payment", asked=None, fee_amount=0, decision_due=None)
    assert "Needs your attention" in client.get("/dashboard").get_data(as_text=True)

    replies.answer_information_request(asked, citizen, "Here is the clearer photo.")
    db.session.expire_all()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Needs your attention" not in page
    assert asked.reference in page  # still listed with the sent applications
