"""The baseline for ``bench/pages.py``: a bare Flask + Jinja page, served by gunicorn
with the same settings as the portal.

No database, no extensions, no request hooks: just a template that extends a layout
and loops over lists, producing a page of about the size and shape of the portal's home
page (a few KB of HTML). Whatever the portal adds on top of this is what the ratio
measures.

    gunicorn bench.bare_app:app        # from the repository root
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

_HERE = Path(__file__).resolve().parent

app = Flask(
    __name__,
    template_folder=str(_HERE / "templates"),
    static_folder=str(_HERE / "static"),
)

SITE_NAME = "HK Digital Services Portal"
NAVIGATION = [
    {"href": "/", "text": "Home", "active": True},
    {"href": "/services", "text": "Services", "active": False},
    {"href": "/help", "text": "Help", "active": False},
    {"href": "/sign-in", "text": "Sign in", "active": False},
]
OTHER_LOCALES = [("zh_Hant_HK", "繁體中文", "zh-Hant-HK")]
POINTS = [
    "Use one account for every service, instead of registering again for each department.",
    "Apply online at any time, save your answers and come back later.",
    "Pay fees online and get a receipt that anyone can check is genuine.",
    "See where each application stands and answer questions from the department.",
    "Tell us your details once: we fill them in for you in every application.",
]
FOOTER_LINKS = [
    {"href": "/help", "text": "Help"},
    {"href": "/accessibility", "text": "Accessibility"},
    {"href": "/privacy", "text": "Privacy"},
    {"href": "/cookies", "text": "Cookies"},
]


@app.route("/")
def home() -> str:
    return render_template(
        "bare_page.html",
        site_name=SITE_NAME,
        title="Government services online",
        heading="Government services online, in one place",
        lede="Apply for government services, pay fees and download receipts with one "
        "account, in English or Chinese.",
        navigation=NAVIGATION,
        other_locales=OTHER_LOCALES,
        points=POINTS,
        footer_links=FOOTER_LINKS,
        year=2026,
    )
