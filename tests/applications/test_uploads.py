"""Supporting documents: type from content, size limits, storage, who may download."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from portal.applications.models import Application, Upload
from portal.applications.uploads import path_for
from portal.testing.helpers import csrf_token_from
from tests.applications.conftest import PDF, PNG
from tests.applications.test_journey import (
    ADDRESS,
    DETAILS,
    evidence,
    fill_all,
    post_step,
    start,
    submit,
)


def _to_evidence(client, draft):
    post_step(client, draft, "details", {**DETAILS, "kind": "day"})
    post_step(client, draft, "address", ADDRESS)


def test_a_file_whose_content_is_not_an_allowed_type_gets_a_field_error(
        client, permit_service, create_user, sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    # An executable renamed to .pdf, and a JPEG where only PDF and PNG are allowed.
    for name, content in (("proof.pdf", b"MZ\x90\x00" + b"\x00" * 100),
                          ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)):
        response = post_step(client, draft, "evidence", evidence(name, content),
                             content_type="multipart/form-data")
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "The selected file must be a PDF or PNG" in page
    assert db_session.scalar(select(Upload)) is None


def test_a_file_over_the_field_limit_gets_a_field_error(client, permit_service, create_user,
                                                        sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    big = PDF + b"0" * 60_000
    response = post_step(client, draft, "evidence", evidence("big.pdf", big),
                         content_type="multipart/form-data")
    assert response.status_code == 200
    assert "smaller than" in response.get_data(as_text=True)
    assert db_session.scalar(select(Upload)) is None


def test_a_body_over_the_portal_limit_gets_413(client, app, permit_service, create_user,
                                               sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    huge = PDF + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    token = csrf_token_from(client.get(f"/drafts/{draft}/evidence").get_data(as_text=True))
    # Encoded in memory: the test client would spool a body this big to a temporary file
    # that it never closes when the portal refuses to read it.
    fields = MultiDict({"csrf_token": token, "agree": "y"})
    fields.add("evidence", FileStorage(io.BytesIO(huge), "huge.pdf"))
    boundary, body = encode_multipart(fields)
    response = client.post(f"/drafts/{draft}/evidence", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert db_session.scalar(select(Upload)) is None


def test_an_upload_is_stored_outside_the_web_root_and_served_as_an_attachment(
        client, app, permit_service, create_user, sign_in, db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    post_step(client, draft, "evidence", evidence("my <proof>.pdf"),
              content_type="multipart/form-data")
    upload = db_session.scalar(select(Upload))
    stored = path_for(upload.storage_key)
    assert stored.read_bytes() == PDF
    assert Path(app.static_folder) not in stored.parents
    assert "proof" not in stored.name
    response = client.get(f"/uploads/{upload.public_id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in response.headers["Cache-Control"]
    page = client.get(f"/drafts/{draft}/evidence").get_data(as_text=True)
    assert "my &lt;proof&gt;.pdf" in page


def test_replacing_an_upload_deletes_the_old_file(client, permit_service, create_user, sign_in,
                                                  db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    post_step(client, draft, "evidence", evidence("one.pdf"), content_type="multipart/form-data")
    first = db_session.scalar(select(Upload))
    first_path = path_for(first.storage_key)
    post_step(client, draft, "evidence", evidence("two.png", PNG),
              content_type="multipart/form-data")
    db_session.expire_all()
    assert [u.filename for u in db_session.scalars(select(Upload))] == ["two.png"]
    assert not first_path.exists()


def test_keeping_the_uploaded_file_needs_no_second_upload(client, permit_service, create_user,
                                                          sign_in):
    create_user()
    sign_in(client)
    draft = start(client)
    _to_evidence(client, draft)
    post_step(client, draft, "evidence", evidence(), content_type="multipart/form-data")
    response = post_step(client, draft, "evidence",
                         {"started_on": ["3", "4", "2020"], "agree": "y",
                          "evidence": (io.BytesIO(b""), "")},
                         content_type="multipart/form-data")
    assert response.headers["Location"].endswith("/check")


def test_department_staff_may_download_but_not_other_departments(
        client, app, permit_service, create_user, create_staff, sign_in, sign_in_staff,
        db_session):
    create_user()
    sign_in(client)
    draft = start(client)
    fill_all(client, draft)
    submit(client, draft)
    upload = db_session.scalar(select(Upload))
    assert db_session.scalar(select(Application)).uploads == [upload]
    officer = create_staff(email="td@example.com", department_code="TD")
    outsider = create_staff(email="immd@example.com", department_code="IMMD")
    td = app.test_client()
    sign_in_staff(td, officer)
    assert td.get(f"/uploads/{upload.public_id}").status_code == 200
    other = app.test_client()
    sign_in_staff(other, outsider)
    assert other.get(f"/uploads/{upload.public_id}").status_code == 404
    # The staff view of the document is in the audit log; the citizen's own is not.
    assert client.get(f"/uploads/{upload.public_id}").status_code == 200
    from portal.audit.models import AuditEvent

    db_session.expire_all()
    [event] = db_session.scalars(select(AuditEvent).where(
        AuditEvent.action == "upload.downloaded")).all()
    assert (event.actor_id, event.department) == (officer.id, "TD")
    assert event.details["upload"] == upload.public_id
