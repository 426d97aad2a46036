"""Hong Kong's 18 districts (Hong Kong has no postcodes; the district locates an address)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: code -> name; lazily translated. Codes are stable and stored.
DISTRICTS = {
    "central_western": _l("Central and Western"),
    "wan_chai": _l("Wan Chai"),
    "eastern": _l("Eastern"),
    "southern": _l("Southern"),
    "yau_tsim_mong": _l("Yau Tsim Mong"),
    "sham_shui_po": _l("Sham Shui Po"),
    "kowloon_city": _l("Kowloon City"),
    "wong_tai_sin": _l("Wong Tai Sin"),
    "kwun_tong": _l("Kwun Tong"),
    "kwai_tsing": _l("Kwai Tsing"),
    "tsuen_wan": _l("Tsuen Wan"),
    "tuen_mun": _l("Tuen Mun"),
    "yuen_long": _l("Yuen Long"),
    "north": _l("North"),
    "tai_po": _l("Tai Po"),
    "sha_tin": _l("Sha Tin"),
    "sai_kung": _l("Sai Kung"),
    "islands": _l("Islands"),
}


def district_name(code: str | None) -> str:
    return str(DISTRICTS[code]) if code in DISTRICTS else ""
