"""What certified copies cost, in integer cents of HKD.

HK$140 a copy is NOT verified against an official source: the stored copies of the
Immigration Department's and GovHK's pages consulted did not show the fee, and only
secondary sites gave HK$140. Check it against the Births and Deaths Registration
Regulations (Cap. 174A) or the Immigration Department before the service goes live.
Delivery by post is charged nothing extra here (also to be confirmed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.toolkit import Fee

#: Fee for one certified copy of a birth entry, in cents (not verified, see above).
FEE_PER_COPY = 14_000
MAX_COPIES = 10


def copies_fee(answers: Mapping[str, Any]) -> Fee:
    """The number of copies times the fee for one."""
    return Fee(int(answers["copies"]) * FEE_PER_COPY)
