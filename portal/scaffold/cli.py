"""The ``portal new-service`` command."""

from __future__ import annotations

from pathlib import Path

import click

from portal.plugins.service import TOPICS
from portal.scaffold import ScaffoldError, ServiceSpec, generate


@click.command("new-service")
@click.argument("name")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to create (new or empty). Default: ./portal-service-NAME.")
@click.option("--title", default="", help="The service's title in English.")
@click.option("--title-zh", default="",
              help="The title in Traditional Chinese (else left for you to translate).")
@click.option("--department", default="DEMO", show_default=True,
              help="Code of the department that runs it, like TD.")
@click.option("--category", type=click.Choice(sorted(TOPICS)), default="community",
              show_default=True, help="The catalogue topic it is listed under.")
def new_service_command(name: str, dest: Path | None, title: str, title_zh: str,
                        department: str, category: str) -> None:
    """Create a new e-service NAME as an installable package, with tests and translations."""
    spec = ServiceSpec(name=name, title=title.strip(), title_zh=title_zh.strip(),
                       department=department.strip().upper(), category=category)
    target = dest if dest is not None else Path.cwd() / spec.dist_name
    try:
        files = generate(spec, target)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Created {spec.dist_name} in {target} ({len(files)} files).")
    if not spec.title_zh:
        click.echo(
            f"The Chinese title is not given: translate {spec.english_title!r} in "
            f"{name}/translations/zh_Hant_HK/LC_MESSAGES/{name}.po and compile (README.md)."
        )
    click.echo("Next:")
    click.echo(f"  cd {target}")
    click.echo("  pip install -e '.[test]'")
    click.echo(f"  portal services      # {name} should be active")
    click.echo("  pytest               # the portal's contract kit")
