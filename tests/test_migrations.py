"""The schema comes from migrations, and the migrations match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrations; run `portal db migrate`: {diff}"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_upgrading_keeps_the_rows_that_refer_to_an_altered_table(tmp_path):
    """SQLite alters a table by copying it; that must not cascade into other tables' rows."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from portal import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
                      "INSTANCE_PATH": str(tmp_path), "TESTING": True, "SERVICES": "nothing"})
    with app.app_context():
        upgrade(revision="0002_applications")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, name_en, preferred_language, role, is_active,"
                " created_at, failed_sign_ins) VALUES (1, 'a@example.com', 'A', 'en',"
                " 'citizen', 1, '2026-01-01', 0)"))
            conn.execute(text(
                "INSERT INTO applications (id, reference, user_id, service, department, state,"
                " answers, fee_amount, fee_currency, locale, submitted_at, updated_at)"
                " VALUES (1, 'K7MX-4P9Q-R', 1, 's', 'TD', 'received', '{}', 0, 'HKD', 'en',"
                " '2026-01-01', '2026-01-01')"))
            conn.execute(text(
                "INSERT INTO application_events (application_id, action, to_state, actor_role,"
                " created_at) VALUES (1, 'submitted', 'received', 'citizen', '2026-01-01')"))
        upgrade(revision="heads")  # 0003 alters the applications table
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM application_events")).scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        downgrade(revision="0002_applications")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM application_events")).scalar() == 1
        db.engine.dispose()
