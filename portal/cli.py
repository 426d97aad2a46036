"""The ``portal`` command: ``run``, ``db upgrade``, ``demo``, ``staff create`` and more."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from portal.extensions import db
from portal.scaffold.cli import new_service_command


def _create_app() -> Flask:
    from portal import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """The one-stop digital services portal."""


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(staff_group)
    app.cli.add_command(departments_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(services_command)
    app.cli.add_command(new_service_command)
    app.cli.add_command(drafts_group)
    app.cli.add_command(applications_group)
    app.cli.add_command(payments_group)
    from portal.receipts.cli import receipts_group

    app.cli.add_command(receipts_group)
    from portal.audit.cli import audit_group

    app.cli.add_command(audit_group)


@click.group("services", invoke_without_command=True)
@click.pass_context
def services_command(ctx: click.Context) -> None:
    """List installed service plugins, their versions and status (``enable NAME``
    switches one back on after it was switched off for failing)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(services_list_command)


def entry_status(registry: object, entry: object) -> str:
    """``active``, ``disabled: why``, ``switched off: why``..., for people to read."""
    off = registry.switched_off.get(entry.entry_point)  # type: ignore[attr-defined]
    if entry.status == "active" and off:  # type: ignore[attr-defined]
        return f"switched off: {off}"
    reason = entry.reason  # type: ignore[attr-defined]
    return entry.status + (f": {reason}" if reason else "")  # type: ignore[attr-defined]


@services_command.command("list")
@with_appcontext
def services_list_command() -> None:
    """List installed service plugins, their versions and status."""
    from portal.plugins.manager import services

    registry = services(current_app)
    try:
        registry.refresh(every=0)
    except Exception as exc:  # noqa: BLE001 - the listing is still useful without it
        db.session.rollback()
        click.echo(f"(services switched off while running are unknown: {type(exc).__name__};"
                   " has `portal db upgrade` run?)")
    if not registry.entries:
        click.echo("No service plugins are installed (entry point group portal.services).")
        return
    click.echo(f"{'service':<24} {'distribution':<28} {'version':<10} status")
    for entry in registry.entries:
        status = entry_status(registry, entry)
        click.echo(f"{entry.name:<24} {entry.distribution:<28} {entry.version:<10} {status}")


@services_command.command("enable")
@click.argument("entry_point")
@with_appcontext
def services_enable_command(entry_point: str) -> None:
    """Switch a service plugin back on (every app process picks it up within
    SERVICE_SWITCH_REFRESH_SECONDS)."""
    from portal.plugins.manager import services

    if not services(current_app).switch_on(entry_point):
        raise click.ClickException(f"{entry_point} is not switched off.")
    click.echo(f"{entry_point} is switched on again.")


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo accounts and departments (embedded default only)."""
    from portal.demo import DEMO_ACCOUNTS, load_demo_data

    if not current_app.config["EMBEDDED"]:
        raise click.ClickException(
            "Demo data is only loaded into the embedded default (SQLite); refusing to touch "
            f"{db.engine.url.render_as_string(hide_password=True)}."
        )
    created = load_demo_data()
    click.echo(f"Demo data ready ({created} new records). Demo accounts:")
    for account in DEMO_ACCOUNTS:
        line = f"  {account['label']:<40} {account['email']:<28} {account['password']}"
        if account.get("totp"):
            line += f"  TOTP secret {account['totp']}"
        click.echo(line)


@click.group("staff")
def staff_group() -> None:
    """Manage staff accounts."""


@staff_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "name_en", required=True, help="Full name in English.")
@click.option("--name-zh", default=None, help="Full name in Chinese.")
@click.option(
    "--role",
    type=click.Choice(["officer", "supervisor", "department_admin", "portal_admin"]),
    required=True,
)
@click.option("--department", "department_code", default=None, help="Department code, e.g. TD.")
@click.option(
    "--invite/--password",
    default=True,
    help="Email an invitation link (default), or prompt for a password now.",
)
@with_appcontext
def staff_create_command(
    email: str, name_en: str, name_zh: str | None, role: str, department_code: str | None,
    invite: bool,
) -> None:
    """Create a staff member; they set up the second factor at first sign-in."""
    from portal.identity import util
    from portal.identity.models import DEPARTMENT_ROLES, Department, Role
    from portal.identity.passwords import password_problem

    role_enum = Role(role)
    department = None
    if role_enum in DEPARTMENT_ROLES:
        if not department_code:
            raise click.UsageError("--department is required for this role")
        department = db.session.scalar(
            select(Department).where(Department.code == department_code.upper())
        )
        if department is None:
            raise click.ClickException(f"No department with code {department_code!r}")
    if util.find_user_by_email(email) is not None:
        raise click.ClickException("An account with this email address already exists")
    password = None
    if not invite:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        problem = password_problem(password, [email, name_en])
        if problem:
            raise click.ClickException(f"Password refused: {problem.replace('_', ' ')}")
    user = util.create_staff(
        email=email, name_en=name_en, name_zh=name_zh, role=role_enum,
        department_id=department.id if department else None, password=password,
    )
    if invite:
        if not current_app.config.get("PUBLIC_BASE_URL"):
            click.echo(
                "Warning: PORTAL_PUBLIC_BASE_URL is not set; the invitation link will point "
                "to http://127.0.0.1:5000.", err=True,
            )
        util.send_staff_invitation(user)
    from portal.audit import log as audit

    audit.record("staff.created", target=user, department=department.code if department else None,
                 details={"role": role, "via": "cli"})
    db.session.commit()
    click.echo(f"Created {role} {user.email}" + (" and emailed an invitation." if invite else "."))


@click.group("departments")
def departments_group() -> None:
    """Manage departments."""


@departments_group.command("add")
@click.argument("code")
@click.option("--name-en", required=True)
@click.option("--name-zh", required=True)
@with_appcontext
def departments_add_command(code: str, name_en: str, name_zh: str) -> None:
    """Add a department, e.g. ``portal departments add TD --name-en ... --name-zh ...``."""
    from portal.identity.models import Department

    if db.session.scalar(select(Department).where(Department.code == code.upper())):
        raise click.ClickException(f"Department {code.upper()} exists already")
    db.session.add(Department(code=code.upper(), name_en=name_en, name_zh=name_zh))
    db.session.commit()
    click.echo(f"Added {code.upper()}")


@departments_group.command("list")
@with_appcontext
def departments_list_command() -> None:
    """List departments."""
    from portal.identity.models import Department

    for department in db.session.scalars(select(Department).order_by(Department.code)):
        click.echo(f"{department.code:<8} {department.name_en} / {department.name_zh}")


@click.group("outbox")
def outbox_group() -> None:
    """Email outbox."""


@outbox_group.command("deliver")
@with_appcontext
def outbox_deliver_command() -> None:
    """Send every due email now (what the periodic job does)."""
    from portal.notifications.delivery import deliver_due

    click.echo(f"Attempted {deliver_due()} emails.")


@click.group("drafts")
def drafts_group() -> None:
    """Saved, unsent applications."""


@click.group("applications")
def applications_group() -> None:
    """Sent applications."""


@applications_group.command("lapse-unpaid")
@with_appcontext
def applications_lapse_unpaid_command() -> None:
    """Close applications left unpaid for UNPAID_APPLICATION_DAYS (beat runs it hourly)."""
    from portal.applications.tasks import lapse_unpaid_applications

    click.echo(f"Closed {lapse_unpaid_applications()} unpaid application(s).")


@drafts_group.command("expire")
@with_appcontext
def drafts_expire_command() -> None:
    """Email owners of drafts about to expire, delete expired drafts (beat runs it hourly)."""
    from portal.applications.tasks import remind_and_expire_drafts

    reminded, deleted = remind_and_expire_drafts()
    click.echo(f"{reminded} reminders queued, {deleted} expired drafts deleted.")


@click.group("payments")
def payments_group() -> None:
    """Payments."""


@payments_group.command("deliver-webhooks")
@with_appcontext
def payments_deliver_webhooks_command() -> None:
    """Send the sandbox's due webhooks now (beat does it every 30 seconds); failed
    attempts wait, with back-off, for a later run."""
    from portal.payments.sandbox.webhooks import deliver_due

    result = deliver_due()
    click.echo(f"Sandbox webhooks: {result.delivered} delivered, {result.retrying} to retry, "
               f"{result.given_up} given up.")


@payments_group.command("reconcile")
@with_appcontext
def payments_reconcile_command() -> None:
    """Ask the provider about every unfinished payment and record the answers (beat runs
    it every 5 minutes); payments past their time are expired."""
    from portal.payments.tasks import reconcile_payments, reconcile_refunds

    result = reconcile_payments()
    click.echo(f"{result.checked} open payments checked: {result.settled} settled, "
               f"{result.expired} expired, {result.errors} could not be checked.")
    refunds = reconcile_refunds()
    click.echo(f"{refunds.checked} unfinished refunds checked: {refunds.succeeded} "
               f"succeeded, {refunds.failed} failed, {refunds.errors} could not be checked.")
    if result.errors or refunds.errors:
        raise SystemExit(1)
