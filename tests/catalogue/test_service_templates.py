"""A service's own templates: found in its package, in its own language catalogue."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from portal.plugins.templates import render_service_template
from tests.catalogue.conftest import make_service


@pytest.fixture
def renewal(install_services, test_services):
    install_services(*test_services.values())
    return test_services["test_renewal"]


def render(app, name, template, language="en", **context):
    with app.test_request_context("/", headers={"Accept-Language": language}):
        return render_service_template(name, template, **context)


def test_a_service_template_is_rendered_with_the_page_context(app, renewal):
    html = render(app, "test_renewal", "start.html", service=renewal)
    assert isinstance(html, Markup)
    assert "Bring your old licence if we ask for it." in html
    assert '<p id="context">test_renewal en</p>' in html
    assert "2 documents" in html


def test_it_speaks_the_services_own_catalogue_then_the_cores(app, renewal):
    html = render(app, "test_renewal", "start.html", "zh-HK", service=renewal)
    assert "如我們要求，請帶備舊牌照。" in html
    assert "2 份文件" in html
    # not in the service's catalogue: the core's translation
    assert '<p id="core">說明</p>' in html
    assert "zh_Hant_HK" in html


def test_it_escapes_what_it_is_given(app, renewal):
    html = render(app, "test_renewal", "start.html", service=renewal,
                  extra="<script>alert(1)</script>")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_missing_template_gives_none(app, renewal):
    assert render(app, "test_renewal", "next_steps.html") is None


def test_a_service_without_templates_gives_none(app, renewal):
    assert render(app, "test_certificate", "start.html") is None


def test_an_inactive_or_unknown_service_gives_none(app, install_services, test_services):
    install_services(disabled=(test_services["test_renewal"],))
    assert render(app, "test_renewal", "start.html", service=test_services["test_renewal"]) is None
    assert render(app, "no_such_service", "start.html") is None


def test_the_portals_templates_never_stand_in_for_a_services_own(app, install_services):
    # "core/home.html" is a portal template; the service named "core" has no home.html
    install_services(make_service("core", "A test service", "Named like a core area."))
    assert render(app, "core", "home.html") is None
    assert render(app, "core", "other.html") == "<p>own</p>"


def test_the_environment_is_built_once_per_service(app, renewal, install_services, test_services):
    from portal.plugins.templates import _service_templates

    with app.test_request_context("/"):
        first = _service_templates(app, "test_renewal")
        assert _service_templates(app, "test_renewal") is first
        # the portal's own environment is left alone
        assert first.environment is not app.jinja_env
        assert app.jinja_env.globals["gettext"] is not first.environment.globals["gettext"]
        install_services(*test_services.values())
        assert _service_templates(app, "test_renewal") is not first
