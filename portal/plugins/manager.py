"""Finding, loading and isolating service plugins.

Services are found through the ``portal.services`` entry point group, the built-in ones
exactly like third-party ones. ``PORTAL_SERVICES`` (a comma-separated list) limits which
are loaded; empty means all installed. A plugin that fails to import, raises in
``register_services`` or returns an invalid definition is disabled with the reason, which
``portal services`` and the administrators' services page show; the portal keeps serving.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from flask import Flask

from portal.plugins import hookspecs
from portal.plugins.service import InvalidService, ServiceDefinition

GROUP = "portal.services"
log = logging.getLogger("portal.plugins")


@dataclass
class LoadedService:
    """One entry point and what became of it."""

    entry_point: str
    distribution: str
    version: str
    status: str  # "active", "disabled" or "not selected"
    reason: str = ""
    definition: ServiceDefinition | None = None
    #: The Python package holding the plugin: its templates/, translations/, migrations/.
    package: str = ""

    @property
    def name(self) -> str:
        return self.definition.name if self.definition else self.entry_point


class ServiceRegistry:
    def __init__(self) -> None:
        self.entries: list[LoadedService] = []
        #: Requests each plugin's code failed, by entry point, in this process.
        self.failures: dict[str, list[float]] = {}
        #: Plugins switched off while running (entry point -> reason), from the database.
        self.switched_off: dict[str, str] = {}
        self._refreshed_at = float("-inf")
        self.plugin_manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.plugin_manager.add_hookspecs(hookspecs)

    def package(self, name: str) -> str:
        """The package of the active service ``name`` (for its templates and catalogue)."""
        for entry in self.entries:
            if entry.status == "active" and entry.definition and entry.definition.name == name:
                return entry.package
        raise KeyError(name)

    def blame(self, exc: BaseException) -> LoadedService | None:
        """The active service whose own code raised ``exc``, if any.

        The innermost frame of the traceback that belongs to an active plugin's package
        decides; a failure in the core is nobody's plugin.
        """
        owners = {e.package: e for e in self.entries if e.status == "active" and e.package}
        if not owners:
            return None
        culprit = None
        trace = exc.__traceback__
        while trace is not None:
            module = trace.tb_frame.f_globals.get("__name__", "")
            for package, entry in owners.items():
                if module == package or module.startswith(package + "."):
                    culprit = entry
            trace = trace.tb_next
        return culprit

    def record_failure(self, entry: LoadedService, exc: BaseException, error_id: str,
                       limit: int, window: float = 600.0) -> bool:
        """Count a request the plugin's code failed; switch it off at ``limit`` failures
        within ``window`` seconds (for every app process: see ``switch_off``). Returns
        whether it is now off.

        The reason keeps the error's type and id, not its message, which may hold a
        citizen's data (the log has the full trace).
        """
        import time

        now = time.monotonic()
        recent = [t for t in self.failures.get(entry.entry_point, []) if now - t < window]
        recent.append(now)
        self.failures[entry.entry_point] = recent
        count = len(recent)
        if count < limit:
            return False
        self.switch_off(entry.entry_point, f"raised {type(exc).__name__} on {count} "
                                           f"requests (last error id {error_id})")
        return True

    def switch_off(self, entry_point: str, reason: str) -> None:
        """Take a loaded plugin out of service in every process: no longer listed, served
        or called for hooks, until ``switch_on`` (``portal services enable``)."""
        from sqlalchemy.exc import IntegrityError

        from portal.extensions import db
        from portal.plugins.models import ServiceSwitch

        self.switched_off[entry_point] = reason[:300]
        if db.session.get(ServiceSwitch, entry_point) is None:
            db.session.add(ServiceSwitch(entry_point=entry_point, reason=reason[:300]))
        try:
            db.session.commit()
        except IntegrityError:  # another process switched it off at the same moment
            db.session.rollback()

    def switch_on(self, entry_point: str) -> bool:
        from sqlalchemy import delete

        from portal.extensions import db
        from portal.plugins.models import ServiceSwitch

        removed = db.session.execute(
            delete(ServiceSwitch).where(ServiceSwitch.entry_point == entry_point)
        ).rowcount
        db.session.commit()
        self.switched_off.pop(entry_point, None)
        self.failures.pop(entry_point, None)
        return bool(removed)

    def refresh(self, every: float) -> None:
        """Pick up switches made by other processes (at most once per ``every`` seconds)."""
        import time

        from sqlalchemy import select

        from portal.extensions import db
        from portal.plugins.models import ServiceSwitch

        now = time.monotonic()
        if now - self._refreshed_at < every:
            return
        self._refreshed_at = now
        try:
            rows = db.session.execute(select(ServiceSwitch.entry_point, ServiceSwitch.reason))
            switched_off = {entry_point: reason for entry_point, reason in rows}
        except Exception:
            # Leave no failed transaction behind: the request goes on with the session.
            try:
                db.session.rollback()
            except Exception:  # noqa: BLE001, S110 - the connection may be gone
                pass
            raise
        for entry_point in set(self.switched_off) - set(switched_off):
            self.failures.pop(entry_point, None)  # switched on again: count afresh
        self.switched_off = switched_off

    def hook(self, name: str) -> Any:
        """A hook caller that leaves out plugins switched off while running."""
        off = [self.plugin_manager.get_plugin(e) for e in self.switched_off]
        off = [plugin for plugin in off if plugin is not None]
        if not off:
            return getattr(self.plugin_manager.hook, name)
        return self.plugin_manager.subset_hook_caller(name, remove_plugins=off)

    def migration_folders(self) -> list[str]:
        """``migrations/`` folders of every installed plugin: their own Alembic branches.

        Plugins left out by ``PORTAL_SERVICES`` or disabled count too: their tables may
        exist from before, and Alembic must still know the revisions that made them.
        """
        from importlib.resources import files

        folders = []
        for package in dict.fromkeys(e.package for e in self.entries if e.package):
            try:
                folder = files(package) / "migrations"
            except TypeError:  # a plugin that is a single module has no folders
                continue
            if folder.is_dir():
                folders.append(str(folder))
        return folders

    @property
    def active(self) -> dict[str, ServiceDefinition]:
        return {
            e.definition.name: e.definition
            for e in self.entries
            if e.status == "active" and e.definition is not None
            and e.entry_point not in self.switched_off
        }


def _package_named_by(entry_point: EntryPoint) -> str:
    """The package an entry point's module belongs to, without running that module."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(entry_point.module)
    except Exception:  # noqa: BLE001 - a broken plugin is reported when it is loaded
        return ""
    if spec is None:
        return ""
    if spec.submodule_search_locations is not None:
        return entry_point.module
    return entry_point.module.rpartition(".")[0] or entry_point.module


def _distribution(entry_point: EntryPoint) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "-", "-"
    return dist.metadata["Name"] or "-", dist.version or "-"


def _package_of(plugin: Any) -> str:
    module = plugin if hasattr(plugin, "__name__") else type(plugin)
    name = getattr(module, "__name__", "")
    if hasattr(module, "__path__"):
        return name
    return getattr(module, "__package__", None) or name.rpartition(".")[0] or name


def _check_tables(package: str, names: set[str]) -> None:
    """A service's own tables must be named ``<service>_...`` so none collides."""
    from portal.extensions import db

    for mapper in db.Model.registry.mappers:
        module = mapper.class_.__module__
        if module != package and not module.startswith(package + "."):
            continue
        table = getattr(mapper.local_table, "name", "")
        if not any(table.startswith(f"{name}_") for name in names):
            raise InvalidService(
                f"table {table!r} must start with its service's name "
                f"({' or '.join(sorted(names))}_...)"
            )


def _register(registry: ServiceRegistry, entry_point: EntryPoint, entry: LoadedService) -> None:
    plugin = entry_point.load()
    entry.package = _package_of(plugin)
    registry.plugin_manager.register(plugin, name=entry_point.name)
    impl = registry.plugin_manager.hook.register_services.get_hookimpls()
    own = [i for i in impl if i.plugin is plugin]
    if not own:
        raise InvalidService("the plugin does not implement register_services")
    contributed: Any = own[0].function()
    definitions = list(contributed or [])
    if not definitions:
        raise InvalidService("register_services returned no services")
    for definition in definitions:
        if not isinstance(definition, ServiceDefinition):
            raise InvalidService("register_services must return ServiceDefinition objects")
    for definition in definitions:
        # The entry point's name is the service's, so no plugin can take another's name.
        if definition.name != entry_point.name and not definition.name.startswith(
                entry_point.name + "_"):
            raise InvalidService(
                f"service {definition.name!r} must be named after its entry point "
                f"{entry_point.name!r} (or start with {entry_point.name}_)"
            )
    _check_tables(entry.package, {d.name for d in definitions})
    taken = set(registry.active)
    first, *more = definitions
    for definition in definitions:
        if definition.name in taken:
            raise InvalidService(f"a service named {definition.name!r} is already loaded")
        taken.add(definition.name)
    entry.definition = first
    entry.status = "active"
    for definition in more:
        registry.entries.append(LoadedService(entry.entry_point, entry.distribution,
                                              entry.version, "active", "", definition,
                                              entry.package))


def load_services(selected: list[str] | None = None) -> ServiceRegistry:
    """Load every installed service plugin (or only ``selected``), isolating failures."""
    registry = ServiceRegistry()
    wanted = set(selected or [])
    for entry_point in sorted(entry_points(group=GROUP), key=lambda ep: ep.name):
        distribution, version = _distribution(entry_point)
        entry = LoadedService(entry_point.name, distribution, version, "disabled",
                              package=_package_named_by(entry_point))
        registry.entries.append(entry)
        if wanted and entry_point.name not in wanted:
            entry.status, entry.reason = "not selected", "not in PORTAL_SERVICES"
            continue
        try:
            _register(registry, entry_point, entry)
        except Exception as exc:  # noqa: BLE001 - any failure disables only this plugin
            entry.status = "disabled"
            entry.reason = f"{type(exc).__name__}: {exc}"[:300]
            entry.definition = None
            if registry.plugin_manager.get_plugin(entry_point.name) is not None:
                registry.plugin_manager.unregister(name=entry_point.name)
            log.error("service plugin %s disabled: %s", entry_point.name, entry.reason)
    for name in sorted(wanted - {e.entry_point for e in registry.entries}):
        registry.entries.append(
            LoadedService(name, "-", "-", "disabled", "named in PORTAL_SERVICES, not installed")
        )
        log.error("service %s is named in PORTAL_SERVICES but not installed", name)
    return registry


def init_app(app: Flask) -> ServiceRegistry:
    import portal.plugins.models  # noqa: F401 - the switches table is part of the schema

    registry = load_services(app.config.get("SERVICES") or [])
    app.extensions["portal_services"] = registry

    @app.before_request
    def _refresh_switches() -> None:
        try:
            services(app).refresh(app.config["SERVICE_SWITCH_REFRESH_SECONDS"])
        except Exception:  # noqa: BLE001 - a database outage has its own page; keep serving
            log.warning("could not read the services switched off", exc_info=True)

    return registry


def services(app: Flask) -> ServiceRegistry:
    return app.extensions["portal_services"]


def _alembic_with_service_branches(config: Any) -> Any:
    """Alembic sees the core's revisions and every active plugin's own branch."""
    import os
    from pathlib import Path

    from flask import current_app

    folders = [str(Path(__file__).parent.parent / "migrations" / "versions")]
    if "portal_services" in current_app.extensions:
        folders += services(current_app).migration_folders()
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(folders))
    return config


def _upgrade_all_branches_by_default() -> None:
    """``portal db upgrade`` goes to every head (core and plugins), not only one."""
    from flask_migrate.cli import db as db_group

    for name in ("upgrade",):
        for param in db_group.commands[name].params:
            if param.name == "revision":
                param.default = "heads"


def init_migrations() -> None:
    from portal.extensions import migrate

    if _alembic_with_service_branches not in migrate.configure_callbacks:
        migrate.configure(_alembic_with_service_branches)
    _upgrade_all_branches_by_default()
