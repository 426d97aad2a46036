"""The citizen's applications: dashboard, the steps of a service, check your answers,
submission, the application page, withdrawal and supporting documents."""

from __future__ import annotations

import io
import secrets
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.applications import engine, replies
from portal.applications.fields import UploadField
from portal.applications.forms import MAX_REPLY_DOCUMENTS, ReplyForm
from portal.applications.models import Application, Draft, DraftStatus, Upload
from portal.applications.uploads import UploadRejected, discard_files, path_for, store_upload
from portal.extensions import db
from portal.forms import error_summary
from portal.i18n import current_locale, hong_kong_today
from portal.identity.auth import may_handle_application
from portal.plugins.manager import services
from portal.plugins.service import STATE_LABELS, IllegalTransition


def dashboard() -> Any:
    profile_complete = bool(current_user.mobile and current_user.district)
    drafts = [
        d for d in db.session.scalars(
            select(Draft)
            .where(Draft.user_id == current_user.id, Draft.status == DraftStatus.OPEN)
            .order_by(Draft.updated_at.desc())
        )
        if not engine.is_expired(d)
    ]
    applications = db.session.scalars(
        select(Application).where(Application.user_id == current_user.id)
        .order_by(Application.submitted_at.desc())
    ).all()
    catalogue = services_active()
    attention = replies.needing_attention(applications, catalogue)
    return render_template(
        "applications/dashboard.html", applications=applications, drafts=drafts,
        profile_complete=profile_complete, catalogue=catalogue,
        expires_on=engine.draft_expires_on, attention=attention,
        information_count=sum(1 for item in attention if item.kind == "information"),
        payment_count=sum(1 for item in attention if item.kind == "payment"),
    )


def services_active() -> dict[str, Any]:
    from flask import current_app

    return services(current_app).active


# --- starting and filling in ----------------------------------------------------------


def start(name: str) -> Any:
    definition = engine.service_or_404(name)
    if request.method == "GET":
        # Reached after signing in from the start button: the start page starts it.
        return redirect(url_for("catalogue.start", name=name))
    existing = engine.open_draft_for(current_user, definition.name)
    if existing is not None:
        # One application in progress per service: a second click, or starting again,
        # continues it (the dashboard can delete it to start afresh).
        flash(gettext("You have already started this application. You can continue it "
                      "here."), "success")
        return redirect(url_for(".resume", draft_id=existing.public_id))
    draft = engine.start_draft(definition, current_user)
    return redirect(url_for(".step", draft_id=draft.public_id,
                            step=definition.steps[0].name))


def _own_draft(draft_id: str) -> Draft:
    draft = db.session.scalar(
        select(Draft).where(Draft.public_id == draft_id, Draft.user_id == current_user.id)
    )
    if draft is None or (draft.status == DraftStatus.OPEN and engine.is_expired(draft)):
        abort(404)
    return draft


def _submitted_redirect(draft: Draft, endpoint: str = ".detail") -> Any:
    application = db.session.scalar(select(Application).where(Application.draft_id == draft.id))
    if application is None:
        abort(404)
    return redirect(url_for(endpoint, reference=application.reference))


def _walk(definition: Any, draft: Draft) -> tuple[list[engine.StepState], dict[str, Upload]]:
    uploads = engine.draft_uploads(draft)
    states = engine.walk(definition, draft.answers or {}, draft.completed_steps or [], uploads)
    return states, uploads


def resume(draft_id: str) -> Any:
    draft = _own_draft(draft_id)
    if draft.status != DraftStatus.OPEN:
        return _submitted_redirect(draft)
    definition = engine.service_or_404(draft.service)
    states, _uploads = _walk(definition, draft)
    unfinished = engine.first_unfinished(states)
    if unfinished is None:
        return redirect(url_for(".check", draft_id=draft.public_id))
    return redirect(url_for(".step", draft_id=draft.public_id, step=unfinished.step.name))


def step(draft_id: str, step: str) -> Any:
    draft = _own_draft(draft_id)
    if draft.status != DraftStatus.OPEN:
        return _submitted_redirect(draft)
    definition = engine.service_or_404(draft.service)
    states, uploads = _walk(definition, draft)
    names = [state.step.name for state in states]
    if step not in names:
        # Unknown, or not asked given the earlier answers.
        if definition.step(step) is None:
            abort(404)
        return redirect(url_for(".resume", draft_id=draft.public_id))
    current = states[names.index(step)]
    returning = request.args.get("return") == "check"
    form = current.form
    if request.method == "POST":
        stored: list[Upload] = []
        try:
            outcome = _post_step(draft, definition, current, uploads, stored)
        except Exception:
            db.session.rollback()
            discard_files(stored)  # written before the failure; their rows never were
            raise
        if not isinstance(outcome, tuple):
            return outcome
        form = outcome[0]
    else:
        engine.check_uploads(form, uploads)
        for item in form:  # shown as entered; errors only after a POST
            item.errors = []
    index = names.index(step)
    if returning:
        back = url_for(".check", draft_id=draft.public_id)
    elif index:
        back = url_for(".step", draft_id=draft.public_id, step=names[index - 1])
    else:
        back = url_for("catalogue.start", name=definition.name)
    has_upload = any(isinstance(item, UploadField) for item in form)
    return render_template(
        "applications/step.html", definition=definition, draft=draft, step=current.step,
        form=form, errors=error_summary(form), back=back, has_upload=has_upload,
        returning=returning,
    )


def _post_step(draft: Draft, definition: Any, current: engine.StepState,
               uploads: dict[str, Upload], stored: list[Upload]) -> Any:
    """Store the posted step; a redirect, or ``(form,)`` to show it again with errors."""
    raw = engine.raw_step_answers(current.step, request.form)
    previous = (draft.answers or {}).get(current.step.name, {})
    replaced: list[Upload] = []
    upload_errors: dict[str, str] = {}
    for name in current.step.fields():
        field = current.form[name]
        if not isinstance(field, UploadField):
            continue
        raw[name] = list(previous.get(name, []))
        chosen = request.files.get(name)
        if chosen is None or not chosen.filename:
            continue
        try:
            upload = store_upload(chosen, field=field, user_id=current_user.id,
                                  draft_id=draft.id)
        except UploadRejected as exc:
            upload_errors[name] = str(exc)
            continue
        stored.append(upload)
        old = uploads.get(raw[name][0]) if raw[name] else None
        if old is not None and old.application_id is None:
            replaced.append(old)
        raw[name] = [upload.public_id]
        uploads[upload.public_id] = upload
    form = engine.bind(current.step, raw, current.before)
    valid = form.validate() & engine.check_uploads(form, uploads)
    for name, message in upload_errors.items():
        form[name].errors = [message]
    valid = valid and not upload_errors
    saving = "save" in request.form
    if valid:
        raw = engine.cleaned(form, raw)
    # A saved step stays unfinished, so resuming comes back to this very page.
    if not engine.save_step(draft, current.step, raw, complete=valid and not saving):
        db.session.rollback()
        discard_files(stored)
        stored.clear()
        return _submitted_redirect(draft)
    for old in replaced:
        db.session.delete(old)
    db.session.commit()
    stored.clear()  # committed: the files are now owned by their rows
    discard_files(replaced)
    returning = request.args.get("return") == "check"
    if saving:
        return redirect(url_for(".saved", draft_id=draft.public_id))
    if not valid:
        return (form,)
    states, _uploads = _walk(definition, draft)
    following = engine.next_step_after(states, current.step.name)
    if returning or following is None:
        unfinished = engine.first_unfinished(states)
        if unfinished is None:
            return redirect(url_for(".check", draft_id=draft.public_id))
        following = following or unfinished
    return redirect(url_for(".step", draft_id=draft.public_id, step=following.step.name))


def saved(draft_id: str) -> Any:
    draft = _own_draft(draft_id)
    if draft.status != DraftStatus.OPEN:
        return _submitted_redirect(draft)
    definition = engine.service_or_404(draft.service)
    return render_template("applications/saved.html", draft=draft, definition=definition,
                           expires_on=engine.draft_expires_on(draft))


def check(draft_id: str) -> Any:
    draft = _own_draft(draft_id)
    if draft.status != DraftStatus.OPEN:
        # Sent already (a second click, another tab): show the same confirmation.
        return _submitted_redirect(draft, ".confirmation")
    definition = engine.service_or_404(draft.service)
    states, uploads = _walk(definition, draft)
    unfinished = engine.first_unfinished(states)
    if unfinished is not None:
        if request.method == "POST":
            flash(gettext("Answer the remaining questions before you submit"), "error")
        return redirect(url_for(".step", draft_id=draft.public_id, step=unfinished.step.name))
    duplicate = None
    if request.method == "POST":
        try:
            application = engine.submit(draft, definition, states, current_locale())
        except engine.DuplicateApplication as exc:
            db.session.rollback()
            duplicate = exc.existing
        else:
            return redirect(url_for(".confirmation", reference=application.reference))
    sections = [(state.step, engine.answer_rows(state.form, uploads)) for state in states]
    fee = definition.fees(engine.flat_values(states))
    own_duplicate = duplicate if duplicate and duplicate.user_id == current_user.id else None
    return render_template("applications/check.html", definition=definition, draft=draft,
                           sections=sections, fee=fee, duplicate=duplicate is not None,
                           own_duplicate=own_duplicate), (409 if duplicate else 200)


def discard(draft_id: str) -> Any:
    draft = _own_draft(draft_id)
    if draft.status != DraftStatus.OPEN:
        return _submitted_redirect(draft)
    definition = services_active().get(draft.service)
    if request.method == "POST":
        uploads = list(engine.draft_uploads(draft).values())
        for upload in uploads:
            db.session.delete(upload)
        db.session.delete(draft)
        db.session.commit()
        discard_files(uploads)
        flash(gettext("Your saved application was deleted"), "success")
        return redirect(url_for(".dashboard"))
    return render_template("applications/discard.html", draft=draft, definition=definition)


# --- after submission --------------------------------------------------------------------


def own_application(reference: str) -> Application:
    """The signed-in citizen's application; anyone else's answers 404, like a missing one."""
    application = db.session.scalar(
        select(Application).where(Application.reference == reference,
                                  Application.user_id == current_user.id)
    )
    if application is None:
        abort(404)
    return application


def confirmation(reference: str) -> Any:
    from portal.plugins.templates import render_service_template

    application = own_application(reference)
    definition = services_active().get(application.service)
    next_steps = None
    if definition is not None:
        next_steps = render_service_template(definition.name, "next_steps.html",
                                             application=application)
    return render_template("applications/confirmation.html", application=application,
                           definition=definition, next_steps=next_steps,
                           pay_nonce=secrets.token_hex(16))


def detail(reference: str) -> Any:
    application = own_application(reference)
    definition = services_active().get(application.service)
    can_withdraw = bool(definition) and "withdraw" in definition.workflow.actions(
        application.state, "citizen")
    from portal.applications.reasons import reason_text
    from portal.payments.ledger import payments_of
    from portal.payments.refunds import refunds_of
    from portal.receipts.documents import documents_for
    from portal.receipts.downloads import receipts_of

    payments = payments_of(application)
    terminal = definition is not None and application.state in definition.workflow.terminal
    waiting = definition is not None and application.state in definition.workflow.waiting
    return render_template(
        "applications/detail.html", application=application, definition=definition,
        sections=engine.submitted_sections(application), can_withdraw=can_withdraw,
        payments=payments, pay_nonce=secrets.token_hex(16),
        receipts=receipts_of(application), refunds=refunds_of(payments),
        documents=documents_for(application), reason_text=reason_text,
        open_request=replies.open_request(application, definition),
        thread=replies.thread_of(application),
        # Staff-only entries (who claimed or was assigned the case) stay in the back office.
        timeline=[event for event in reversed(application.events) if not event.internal],
        rejection=next((event for event in reversed(application.events)
                        if event.to_state == "rejected" and application.state == "rejected"),
                       None),
        decided=terminal, waiting=waiting,
        overdue=(not terminal and not waiting and application.decision_due is not None
                 and application.decision_due < hong_kong_today()),
    )


def withdraw(reference: str) -> Any:
    application = own_application(reference)
    definition = services_active().get(application.service)
    if request.method == "POST":
        try:
            event = engine.transition(application, "withdraw", actor_role="citizen",
                                      actor_id=current_user.id, definition=definition)
        except IllegalTransition:
            db.session.rollback()
            db.session.refresh(application)
            flash(gettext("This application can no longer be withdrawn."), "error")
            return redirect(url_for(".detail", reference=reference))
        db.session.commit()
        engine.announce_transition(application, event)
        flash(gettext("Your application was withdrawn"), "success")
        return redirect(url_for(".detail", reference=reference))
    if definition is None or "withdraw" not in definition.workflow.actions(
            application.state, "citizen"):
        flash(gettext("This application can no longer be withdrawn."), "error")
        return redirect(url_for(".detail", reference=reference))
    return render_template("applications/withdraw.html", application=application,
                           definition=definition)


def reply(reference: str) -> Any:
    """Answer the department's request for more information, with documents if needed."""
    application = own_application(reference)
    definition = services_active().get(application.service)
    request_message = replies.unanswered_request(application)
    if request_message is None:
        return _nothing_to_answer(application)
    if not replies.can_answer(application, definition):
        return _reply_refused(application)
    form = ReplyForm()
    documents_dropped = False
    if form.is_submitted():
        stored: list[Upload] = []
        try:
            outcome = _post_reply(application, form, stored)
        except Exception:
            db.session.rollback()
            discard_files(stored)
            raise
        if outcome is not None:
            return outcome
        documents_dropped = bool(_chosen_files())
    return render_template("applications/reply.html", application=application,
                           definition=definition, request_message=request_message, form=form,
                           documents_dropped=documents_dropped)


def _nothing_to_answer(application: Application) -> Any:
    if replies.answered_before(application):  # a second click, an old link
        flash(gettext("We already have your reply to this request."), "success")
    else:
        flash(gettext("There is no request for more information to answer on this "
                      "application."), "info")
    return redirect(url_for(".detail", reference=application.reference))


def _reply_refused(application: Application) -> Any:
    """The case is no longer waiting for the citizen (decided, withdrawn, moved on)."""
    state = state_name(services_active().get(application.service), application.state)
    if request.method == "POST":
        flash(gettext("Your reply was not sent: this application’s status is now "
                      "“%(state)s”.", state=state), "error")
    else:
        flash(gettext("This application cannot take a reply now: its status is "
                      "“%(state)s”.", state=state), "error")
    return redirect(url_for(".detail", reference=application.reference))


def state_name(definition: Any, state: str) -> str:
    """A state's name from its service, or the core's when the service is not loaded."""
    if definition is not None:
        return str(definition.state_label(state))
    return str(STATE_LABELS.get(state, state))


def _chosen_files() -> list[Any]:
    return [item for item in request.files.getlist("documents") if item and item.filename]


def _post_reply(application: Application, form: ReplyForm, stored: list[Upload]) -> Any:
    """Send the reply; a redirect, or None to show the form again with its errors."""
    valid = form.validate()
    chosen = _chosen_files()
    problems: list[str] = []
    if len(chosen) > MAX_REPLY_DOCUMENTS:
        problems.append(gettext("Choose %(count)d files or fewer", count=MAX_REPLY_DOCUMENTS))
        chosen = []
    for item in chosen:
        try:
            stored.append(store_upload(item, field=form.documents, user_id=current_user.id,
                                       draft_id=None))  # type: ignore[arg-type]
        except UploadRejected as exc:
            problems.append(gettext("%(name)s: %(problem)s", name=item.filename[-80:],
                                    problem=str(exc)))
    if problems:
        form.documents.errors = problems
    if not valid or problems:
        # Nothing is kept from a reply that was not sent: the files go with it.
        db.session.rollback()
        discard_files(stored)
        stored.clear()
        return None
    try:
        replies.answer_information_request(application, current_user, form.message.data,
                                           stored)
    except replies.ReplyRefused as exc:
        discard_files(stored)
        stored.clear()
        if isinstance(exc, replies.NoOpenRequest):
            return _nothing_to_answer(application)
        return _reply_refused(application)
    stored.clear()  # committed: the files now belong to the reply
    flash(gettext("Your reply has been sent. We will continue with your application."),
          "success")
    return redirect(url_for(".detail", reference=application.reference))


def download(upload_id: str) -> Any:
    """A supporting document, to its owner or to staff of the department handling it."""
    upload = db.session.scalar(select(Upload).where(Upload.public_id == upload_id))
    if upload is None or not _may_see(upload):
        abort(404)
    path = path_for(upload.storage_key)
    if not path.is_file():
        abort(404)
    if current_user.is_staff:  # a staff view of a citizen's document is audited
        from portal.audit import log as audit

        audit.record("upload.downloaded", actor=current_user, target=upload.application,
                     department=upload.application.department,
                     details={"upload": upload.public_id, "field": upload.field})
        db.session.commit()
    # Documents are small (MAX_CONTENT_LENGTH); reading them whole leaves no open file.
    response = send_file(io.BytesIO(path.read_bytes()), mimetype=upload.content_type,
                         as_attachment=True, download_name=upload.filename, max_age=0,
                         conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _may_see(upload: Upload) -> bool:
    if upload.user_id == current_user.id and not current_user.is_staff:
        return True
    if not current_user.is_staff or upload.application is None:
        return False
    return may_handle_application(current_user, upload.application)
