"""What a renewal costs, in integer cents of HKD.

Source: the 1823 Call Centre page "Validity period & fee of driving licence"
(www.1823.gov.hk; the copy consulted says it was last updated on 3 October 2019):

- full licence for 10 years (applicants aged 60 or below): HK$900 -- published;
- applicants aged 70 or above choose 1 year (HK$90) or 3 years (HK$270) -- published.

Applicants over 60 but under 70 pay a fee the Transport Department works out from their
age (annual fee plus a daily levy); the service does not offer that option, and its
start page sends them to a licensing office.

The fee for renewing a *probationary* driving licence is NOT verified: HK$900 is a
placeholder that must be checked against the Transport Department's fee table (TD341)
before the service goes live.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.toolkit import Fee

#: Validity period of a full licence -> fee in cents.
FULL_LICENCE_FEES = {
    "10_years": 90_000,
    "3_years": 27_000,
    "1_year": 9_000,
}
#: Not verified (see above).
PROBATIONARY_LICENCE_FEE = 90_000


def renewal_fee(answers: Mapping[str, Any]) -> Fee:
    """The fee for these answers: by licence type and, for a full licence, validity."""
    if answers["licence_type"] == "probationary":
        return Fee(PROBATIONARY_LICENCE_FEE)
    return Fee(FULL_LICENCE_FEES[answers["validity_period"]])
