"""``portal audit verify``: check the audit log's hash chain."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Recompute every event's hash in order; exit 1 naming the first broken row."""
    from portal.audit.log import verify

    report = verify()
    if not report.ok:
        click.echo(f"Audit chain BROKEN at row {report.broken_at}: {report.problem}", err=True)
        click.echo(f"{report.count} events before it verified.", err=True)
        raise SystemExit(1)
    click.echo(f"Audit chain intact: {report.count} events verified; head {report.head_hash}")
