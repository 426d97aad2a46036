"""FPS (Faster Payment System, 轉數快) in the sandbox: a QR code, then "I have paid".

A real FPS payment is made in the citizen's banking app, which reads the merchant's QR
code (EMVCo format) and pays; the provider then learns of it. The sandbox shows a QR code
holding a pretend payload (not EMVCo, no banking app can read it as a payment) and lets
the citizen say that they paid.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from portal.identity.util import qr_svg
from portal.payments.sandbox.models import SandboxPayment

#: How the payee is named in the payload (a name, kept in English)...
PAYEE = "Government of the HKSAR (sandbox)"
#: ...and on the page, in the page's language (the government has an official Chinese name).
PAYEE_SHOWN = _l("Government of the HKSAR (sandbox)")
METHOD = "fps"


def payload(payment: SandboxPayment) -> str:
    """The pretend FPS payload of the QR code: not EMVCo-valid, on purpose."""
    amount = f"{payment.amount // 100}.{payment.amount % 100:02d}"
    return (f"SANDBOX-FPS-NOT-EMVCO|payee={PAYEE}|reference={payment.reference}"
            f"|amount={payment.currency} {amount}")


def qr_code(payment: SandboxPayment) -> Markup:
    """The payload as an inline SVG QR code."""
    return qr_svg(payload(payment))
