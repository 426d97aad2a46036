"""The service contract kit: what every e-service owes the people who use it, as tests.

A service's own test module subclasses ``ServiceContract``, names the service and gives
answers that walk its steps; pytest then runs every check here against it::

    from portal.testing.contract import ServiceContract
    from portal.testing.samples import JPEG

    class TestLibraryCardContract(ServiceContract):
        service = "library_card"
        answers = {
            "details": {"full_name": "CHAN Tai Man", "card_type": "adult"},
            "photo": {"photo": ("photo.jpg", JPEG)},
        }

``answers`` maps each step, in the order a citizen meets them, to what they would post:
a string for text, radios and selects, a ``datetime.date`` (or ``[day, month, year]``) for
a date, ``True`` for a box to tick, ``(file name, bytes)`` for an upload
(``portal.testing.samples`` has tiny real files). The steps named must be exactly those
these answers lead through, so give answers that reach each conditional step you want
covered. If a question's answer is shown on check your answers other than as the
posted text or the chosen option's label, override ``shown_as``.

The checks: every step and the start and check pages render in English and in Chinese;
a saved draft resumes where it was left; check your answers shows every answer; submitting
twice makes one application; the workflow table is consistent and labelled; every string
of the service's gettext domain is extracted, translated into Chinese and compiled.
The fixtures come from ``portal.testing.plugin``.
"""

from __future__ import annotations

import io
import re
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import pytest
from markupsafe import escape

from portal.testing.helpers import csrf_token_from, get_csrf, path_of

__all__ = ["ServiceContract"]

LANGUAGES = {"en": ("en", "en"), "zh-hk": ("zh_Hant_HK", "zh-HK")}
CHINESE = "zh_Hant_HK"
_DRAFT_PAGE = re.compile(r"/drafts/(?P<draft>[^/?#]+)/(?P<page>[^/?#]+)")
_CONFIRMATION = re.compile(r"/applications/(?P<reference>[^/?#]+)/confirmation")


@cache
def _load(service: str) -> Any:
    """The service as the portal loads it (entry point, checks), without an app."""
    from portal.plugins.manager import load_services

    registry = load_services([service])
    return next(e for e in registry.entries if e.entry_point == service or e.name == service)


def _definition(service: str) -> Any:
    entry = _load(service)
    assert entry.status == "active", f"{service} is {entry.status}: {entry.reason}"
    return entry.definition


def _problem(response: Any) -> str:
    """The error summary of a page that refused the answers, as plain text."""
    html = response.get_data(as_text=True)
    found = re.search(r'class="govuk-error-summary.*?</ul>', html, re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(0) if found else html[:2000])
    return f"{response.status_code}: " + " ".join(text.split())[:800]


def _page(path: str) -> tuple[str, str]:
    found = _DRAFT_PAGE.fullmatch(path.split("?", 1)[0])
    assert found, f"expected a page of a draft (/drafts/<id>/<step>), got {path}"
    return found["draft"], found["page"]


def _in_locale(app: Any, locale: str, text: Any) -> str:
    from portal.i18n import force_locale

    with app.test_request_context(), force_locale(locale):
        return str(text)


class ServiceContract:
    """Subclass as ``Test<Service>Contract`` with ``service`` and ``answers``."""

    #: The service's name (its entry point name).
    service: ClassVar[str] = ""
    #: Step name -> {field name -> answer}, in the order the steps come.
    answers: ClassVar[dict[str, dict[str, Any]]] = {}
    #: The citizen who applies (made by ``create_user``).
    citizen_email: ClassVar[str] = "contract.citizen@example.com"
    #: Also check that every string in the package's source is in its ``.pot``.
    check_extraction: ClassVar[bool] = True

    # -- parametrised from the definition itself ------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "move" not in metafunc.fixturenames:
            return
        entry = _load(self.service)
        if entry.status != "active":
            metafunc.parametrize("move", [None], ids=["not-loaded"])
            return
        moves = entry.definition.workflow.transitions
        metafunc.parametrize("move", moves, ids=[f"{m.source}-{m.action}" for m in moves])

    # -- fixtures ---------------------------------------------------------------------------

    @pytest.fixture
    def service_definition(self, app: Any) -> Any:
        from portal.plugins.manager import services

        entry = next((e for e in services(app).entries if e.name == self.service), None)
        assert entry is not None, f"{self.service} is not installed (entry point missing)"
        assert entry.status == "active", f"{self.service} is {entry.status}: {entry.reason}"
        return entry.definition

    @pytest.fixture
    def citizen(self, client: Any, create_user: Any, create_department: Any, sign_in: Any,
                service_definition: Any) -> Any:
        """A citizen of the service's department's public, signed in on ``client``."""
        code = service_definition.department
        create_department(code, name_en=f"Department {code}", name_zh=f"{code}部門")
        user = create_user(self.citizen_email)
        sign_in(client, self.citizen_email)
        return user

    # -- what a citizen does ----------------------------------------------------------------

    def start(self, client: Any) -> str:
        """Press "Start now"; return the path of the first step of the new draft."""
        token = get_csrf(client, f"/services/{self.service}")
        response = client.post(f"/services/{self.service}/apply", data={"csrf_token": token})
        assert response.status_code == 302, _problem(response)
        return path_of(response.headers["Location"])

    def form_data(self, step: str) -> dict[str, Any]:
        """What the browser posts for the sample answers of ``step``."""
        data: dict[str, Any] = {}
        for name, value in self.answers[step].items():
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
                data[name] = (io.BytesIO(value[1]), value[0])
            elif isinstance(value, bool):
                if value:
                    data[name] = "y"
            elif isinstance(value, date):
                data[name] = [str(value.day), str(value.month), str(value.year)]
            elif isinstance(value, list | tuple):
                data[name] = [str(part) for part in value]
            elif value is not None:
                data[name] = str(value)
        return data

    def answer(self, client: Any, path: str, step: str, **extra: str) -> Any:
        page = client.get(path)
        assert page.status_code == 200, f"GET {path}: {page.status_code}"
        token = csrf_token_from(page.get_data(as_text=True))
        return client.post(path, data={"csrf_token": token, **self.form_data(step), **extra})

    def walk(self, client: Any, first: str, pages: dict[str, str] | None = None) -> str:
        """Answer every step from ``first`` on; return the draft's id at check your answers.

        ``pages`` collects the HTML of each step as it was first shown.
        """
        draft, step = _page(first)
        path, visited = first, []
        while step != "check":
            assert step in self.answers, (
                f"the answers led to step {step!r}, but `answers` has nothing for it"
            )
            assert step not in visited, f"step {step!r} came back after {visited}"
            if pages is not None:
                shown = client.get(path)
                assert shown.status_code == 200, f"step {step!r}: {shown.status_code}"
                pages[step] = shown.get_data(as_text=True)
            response = self.answer(client, path, step)
            assert response.status_code == 302, f"step {step!r} refused: {_problem(response)}"
            visited.append(step)
            path = path_of(response.headers["Location"])
            assert _page(path)[0] == draft, f"step {step!r} left the draft for {path}"
            step = _page(path)[1]
        assert visited == list(self.answers), (
            f"the answers led through {visited}, but `answers` names {list(self.answers)}"
        )
        return draft

    def shown_as(self, definition: Any, step: str, field: str, value: Any) -> str | None:
        """The text check your answers shows for this answer (English), or None to skip."""
        from wtforms.fields import RadioField, SelectField

        from portal.applications.fields import ConfirmField, DateField
        from portal.i18n import format_day

        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes):
            return value[0]
        unbound = getattr(definition.step(step).form, field, None)
        field_class = getattr(unbound, "field_class", None)
        if field_class is None or issubclass(field_class, ConfirmField) or value is None:
            return None
        if issubclass(field_class, DateField):
            if isinstance(value, list | tuple):
                day, month, year = (int(part) for part in value)
                value = date(year, month, day)
            return format_day(value, locale="en")
        if issubclass(field_class, RadioField | SelectField):
            for choice in unbound.kwargs.get("choices") or []:
                if str(getattr(choice, "value", choice)) == str(value):
                    return getattr(choice, "label", str(value))
        return str(value)

    # -- the pages --------------------------------------------------------------------------

    def test_the_answers_name_its_steps_and_questions(self) -> None:
        definition = _definition(self.service)
        assert self.answers, "give `answers`: sample answers for each step, in order"
        for step, fields in self.answers.items():
            known = definition.step(step)
            assert known, f"`answers` names step {step!r}; the service has " + ", ".join(
                s.name for s in definition.steps)
            unknown = sorted(set(fields) - set(known.fields()))
            assert not unknown, f"step {step!r} has no question {unknown}: {known.fields()}"

    @pytest.mark.parametrize("language", ["en", "zh-hk"])
    def test_every_page_renders_in_both_languages(self, app: Any, client: Any, citizen: Any,
                                                  service_definition: Any,
                                                  language: str) -> None:
        locale, html_lang = LANGUAGES[language]
        client.get(f"/language/{language}")
        start = client.get(f"/services/{self.service}")
        assert start.status_code == 200
        pages = {"start": start.get_data(as_text=True)}
        draft = self.walk(client, self.start(client), pages)
        check = client.get(f"/drafts/{draft}/check")
        assert check.status_code == 200, _problem(check)
        pages["check"] = check.get_data(as_text=True)
        for page, html in pages.items():
            assert re.search(rf'<html[^>]*\blang="{html_lang}"', html), f"{page}: not {html_lang}"
        title = _in_locale(app, locale, service_definition.title)
        assert str(escape(title)) in pages["start"], f"the start page lacks {title!r}"
        for step in self.answers:
            heading = _in_locale(app, locale, service_definition.step(step).title)
            assert str(escape(heading)) in pages[step], f"step {step!r} lacks {heading!r}"

    def test_a_saved_draft_resumes_where_it_was_left(self, app: Any, client: Any, citizen: Any,
                                                      sign_in: Any,
                                                      service_definition: Any) -> None:
        from wtforms.fields import StringField, TextAreaField

        steps = list(self.answers)
        path = self.start(client)
        draft, _first = _page(path)
        if len(steps) > 1:  # the first step done, the second saved half-way
            done = self.answer(client, path, steps[0])
            assert done.status_code == 302, _problem(done)
            path = path_of(done.headers["Location"])
        left_at = steps[1] if len(steps) > 1 else steps[0]
        assert _page(path) == (draft, left_at)
        saved = self.answer(client, path, left_at, save="1")
        assert saved.status_code == 302, _problem(saved)
        assert path_of(saved.headers["Location"]) == f"/drafts/{draft}/saved"
        assert client.get(f"/drafts/{draft}/saved").status_code == 200
        later = app.test_client()  # another browser, another day
        sign_in(later, self.citizen_email)
        resumed = later.get(f"/drafts/{draft}")
        assert resumed.status_code == 302
        back_at = path_of(resumed.headers["Location"]).split("?")[0]
        assert back_at == f"/drafts/{draft}/{left_at}", f"resumed at {back_at}"
        again = later.get(back_at).get_data(as_text=True)
        form = service_definition.step(left_at).form
        for name, value in self.answers[left_at].items():
            kind = getattr(getattr(form, name, None), "field_class", None)
            if isinstance(value, str) and kind and issubclass(kind, StringField | TextAreaField):
                assert str(escape(value)) in again, f"{left_at}.{name} was not kept: {value!r}"

    def test_check_your_answers_shows_every_answer(self, app: Any, client: Any, citizen: Any,
                                                   service_definition: Any) -> None:
        draft = self.walk(client, self.start(client))
        page = client.get(f"/drafts/{draft}/check")
        assert page.status_code == 200, _problem(page)
        html = page.get_data(as_text=True)
        for step, fields in self.answers.items():
            assert f"/drafts/{draft}/{step}?return=check" in html, f"no change link for {step}"
            for field, value in fields.items():
                shown = self.shown_as(service_definition, step, field, value)
                if shown is None:
                    continue
                text = _in_locale(app, "en", shown)
                assert str(escape(text)) in html, f"{step}.{field}: {text!r} is not shown"

    def test_submitting_twice_makes_one_application(self, app: Any, client: Any, citizen: Any,
                                                    service_definition: Any) -> None:
        from sqlalchemy import select

        from portal.applications.models import Application
        from portal.extensions import db
        from portal.i18n import format_hkd

        draft = self.walk(client, self.start(client))
        check_page = client.get(f"/drafts/{draft}/check").get_data(as_text=True)
        token = csrf_token_from(check_page)
        first = client.post(f"/drafts/{draft}/check", data={"csrf_token": token})
        second = client.post(f"/drafts/{draft}/check", data={"csrf_token": token})
        assert first.status_code == 302, _problem(first)
        assert second.status_code == 302, _problem(second)
        where = path_of(first.headers["Location"])
        assert path_of(second.headers["Location"]) == where
        found = _CONFIRMATION.fullmatch(where)
        assert found, f"submitting led to {where}, not a confirmation page"
        db.session.expire_all()
        applications = db.session.scalars(
            select(Application).where(Application.user_id == citizen.id,
                                      Application.service == self.service)
        ).all()
        assert len(applications) == 1
        [application] = applications
        assert application.reference == found["reference"]
        confirmation = client.get(where)
        assert confirmation.status_code == 200
        assert found["reference"] in confirmation.get_data(as_text=True)
        workflow = service_definition.workflow
        expected = workflow.initial
        if application.fee_amount == 0 and workflow.initial == "awaiting_payment":
            expected = workflow.next_state(expected, "payment_received", "system")
        assert application.state == expected
        if application.fee_amount:
            assert str(escape(format_hkd(application.fee_amount, "en"))) in check_page

    # -- the workflow -----------------------------------------------------------------------

    def test_each_move_leads_to_its_target_and_only_for_its_actors(self, move: Any) -> None:
        from portal.plugins.service import ACTORS, IllegalTransition

        workflow = _definition(self.service).workflow
        for actor in sorted(move.actors):
            assert workflow.next_state(move.source, move.action, actor) == move.target
        for actor in sorted(ACTORS - move.actors):
            with pytest.raises(IllegalTransition):
                workflow.next_state(move.source, move.action, actor)

    def test_final_states_have_no_moves_and_others_have_one(self) -> None:
        from portal.plugins.service import ACTORS

        workflow = _definition(self.service).workflow
        for state in workflow.states:
            moves = [a for actor in sorted(ACTORS) for a in workflow.actions(state, actor)]
            if state in workflow.terminal:
                assert not moves, f"final state {state!r} allows {moves}"
            else:
                assert moves, f"an application in {state!r} could never leave it"

    def test_every_state_and_action_has_a_label(self) -> None:
        definition = _definition(self.service)
        for state in definition.workflow.states:
            label = str(definition.state_label(state))
            assert label.strip() not in ("", state), f"state {state!r} has no label"
        for action in {m.action for m in definition.workflow.transitions}:
            label = str(definition.action_label(action))
            assert label.strip() not in ("", action), f"action {action!r} has no label"

    def test_citizens_withdraw_with_the_withdraw_action(self) -> None:
        workflow = _definition(self.service).workflow
        for move in workflow.transitions:
            if move.action == "withdraw":
                assert "citizen" in move.actors, f"withdraw from {move.source!r} is not theirs"
                assert move.target in workflow.terminal, "a withdrawn application is final"

    # -- translations -----------------------------------------------------------------------

    def _translations(self) -> Path:
        _definition(self.service)
        return Path(str(files(_load(self.service).package))) / "translations"

    def test_every_string_is_translated_into_chinese(self) -> None:
        from babel.messages.mofile import read_mo
        from babel.messages.pofile import read_po

        folder = self._translations()
        po = folder / CHINESE / "LC_MESSAGES" / f"{self.service}.po"
        assert po.is_file(), f"no Chinese catalogue: {po} (pybabel init -l {CHINESE})"
        with po.open("rb") as fh:
            catalog = read_po(fh)
        assert not catalog.fuzzy, f"{po}: the header is marked fuzzy; pybabel will skip it"
        messages = [m for m in catalog if m.id]
        strings = [m.string if isinstance(m.string, tuple) else (m.string,) for m in messages]
        untranslated = [m.id for m, s in zip(messages, strings, strict=True) if not all(s)]
        fuzzy = [m.id for m in messages if m.fuzzy]
        assert not untranslated, f"{po}: not translated: {untranslated}"
        assert not fuzzy, f"{po}: marked fuzzy (check, then remove the flag): {fuzzy}"
        mo = po.with_suffix(".mo")
        assert mo.is_file(), f"{mo} is missing: pybabel compile -D {self.service}"
        with mo.open("rb") as fh:
            compiled = {m.id: m.string for m in read_mo(fh) if m.id}
        # Content, not timestamps: a fresh checkout gives both files arbitrary times.
        assert compiled == {m.id: m.string for m in messages}, (
            f"{mo} is out of date with {po.name}: pybabel compile -D {self.service}"
        )
        pot = folder / f"{self.service}.pot"
        assert pot.is_file(), f"{pot} is missing: pybabel extract"
        with pot.open("rb") as fh:
            missing = sorted({m.id for m in read_po(fh) if m.id} - {m.id for m in messages})
        assert not missing, f"{po} lacks strings of the .pot (pybabel update): {missing}"

    def test_every_string_in_the_source_is_extracted(self) -> None:
        if not self.check_extraction:
            pytest.skip("check_extraction is off")
        from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
        from babel.messages.pofile import read_po

        folder = self._translations()
        package = folder.parent
        found = {
            message if isinstance(message, str) else message[0]
            for _path, _line, message, _comments, _context in extract_from_dir(
                package,
                [("**.py", "python"), ("**/templates/**.html", "jinja2")],
                {"**/templates/**.html": {"trimmed": "true"}},
                keywords={**DEFAULT_KEYWORDS, "lazy_gettext": None},
            )
        }
        with (folder / f"{self.service}.pot").open("rb") as fh:
            extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh)}
        missing = sorted(found - extracted)
        assert not missing, f"strings not in {self.service}.pot (pybabel extract): {missing}"
