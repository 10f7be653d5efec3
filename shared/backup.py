"""Whole-database backups and restores, for ``shared-skills backup`` and ``shared-skills restore``.

SQLite is copied with SQLite's online backup API, which gives a consistent copy while both
servers keep writing. Postgres is dumped with ``pg_dump`` (custom format) next to a small
JSON manifest: the runtime roles the dump's grants and policies name (roles live outside
the database, so no dump of it holds them), the migration revision, and the row count of
every table, counted in the very snapshot ``pg_dump`` dumps, so a restore can prove it is
complete.

Row-level security is the trap: a dump made by a role that does not bypass it holds only
what that role may see, silently. So the dump runs as a role that is superuser or BYPASSRLS
(``settings.backup_db_url``: the administrative role unless the operator set up a dedicated
one), checked before anything is written. Restores run as the administrative role, which
owns the tables, as after the migrations.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from shared.db import backend_of
from shared.settings import Settings

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1


class BackupError(Exception):
    """A backup or restore that cannot go on; the message tells the operator what to do."""


@dataclass(frozen=True)
class Outcome:
    """What was written or restored: the files, and the row count of every table."""

    files: list[Path]
    rows: dict[str, int]

    @property
    def summary(self) -> str:
        size = sum(path.stat().st_size for path in self.files if path.exists())
        return f"{len(self.rows)} tables, {sum(self.rows.values())} rows, {size / 1024:.0f} KiB"


def _backend(url: str) -> str:
    try:
        return backend_of(url)
    except ValueError as error:
        raise BackupError(str(error)) from None


def default_output(settings: Settings, now: datetime | None = None) -> Path:
    """``<backup dir>/skills-<UTC timestamp>.<sqlite3|dump>``: names sort by time."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    extension = "sqlite3" if _backend(settings.backup_db_url) == "sqlite" else "dump"
    return settings.backups_path / f"skills-{stamp}.{extension}"


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def backup(settings: Settings, output: Path) -> Outcome:
    if output.exists():
        raise BackupError(f"{output} already exists: choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _backend(settings.backup_db_url) == "sqlite":
        return _backup_sqlite(settings, output)
    return _backup_postgres(settings, output)


def restore(settings: Settings, source: Path, *, force: bool = False) -> Outcome:
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if _backend(settings.admin_database_url) == "sqlite":
        return _restore_sqlite(settings, source, force=force)
    return _restore_postgres(settings, source, force=force)


@contextmanager
def _written_privately(output: Path) -> Iterator[Path]:
    """A temporary file beside ``output`` (mode 0600: backups hold password hashes), renamed on success."""
    partial = output.with_name(f".{output.name}.partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        yield partial
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


# SQLite ------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [row[0] for row in conn.execute("select name from sqlite_master where type = 'table' order by name")]
    return {name: conn.execute(f'select count(*) from "{name}"').fetchone()[0] for name in names}  # noqa: S608


def _backup_sqlite(settings: Settings, output: Path) -> Outcome:
    database = _sqlite_path(settings.backup_db_url)
    if not database.is_file():
        raise BackupError(f"no database at {database}: nothing to back up")
    with (
        _written_privately(output) as partial,
        closing(sqlite3.connect(database)) as source,
        closing(sqlite3.connect(partial)) as copy,
    ):
        source.backup(copy)  # one consistent snapshot, even while the servers write
        if (check := copy.execute("pragma integrity_check").fetchone()[0]) != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        rows = _sqlite_counts(copy)
    return Outcome([output], rows)


def _restore_sqlite(settings: Settings, source: Path, *, force: bool) -> Outcome:
    target = _sqlite_path(settings.admin_database_url)
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup_db:
        try:
            ok = backup_db.execute("pragma integrity_check").fetchone()[0] == "ok"
            rows = _sqlite_counts(backup_db)
        except sqlite3.DatabaseError as error:
            raise BackupError(f"{source} is not a SQLite backup: {error}") from None
        if not ok or "alembic_version" not in rows:
            raise BackupError(f"{source} is not a shared-skills SQLite backup (integrity check or schema)")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(sqlite3.connect(target)) as live:
            if _sqlite_counts(live) and not force:
                raise BackupError(f"{target} is not empty: stop the servers and pass --force to replace it")
            backup_db.backup(live)  # replaces every page of the target
            restored = _sqlite_counts(live)
    target.chmod(0o600)
    return Outcome([target], restored)


# Postgres ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Connection:
    """A libpq URI without its password, and the environment that carries the password."""

    uri: str
    env: dict[str, str]
    user: str

    @classmethod
    def of(cls, url: str) -> _Connection:
        parsed = make_url(url)
        env = {**os.environ}
        if parsed.password is not None:
            env["PGPASSWORD"] = str(parsed.password)
        uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
        return cls(uri=uri, env=env, user=parsed.username or os.environ.get("PGUSER", ""))

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.uri, password=self.env.get("PGPASSWORD"), **kwargs)
        except psycopg.OperationalError as error:
            raise BackupError(f"cannot connect to {self.uri}: {str(error).strip()}") from None


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not on PATH: install the PostgreSQL client tools "
            "(the same major version as the server, or newer)"
        )
    return path


def _run(args: list[str], connection: _Connection) -> None:
    result = subprocess.run(args, env=connection.env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")


def _bypasses_rls(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("select rolsuper or rolbypassrls from pg_roles where rolname = current_user").fetchone()
    return bool(row and row[0])


def _postgres_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    names = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public' order by 1")]
    counts: dict[str, int] = {}
    for name in names:
        query = sql.SQL("select count(*) from public.{}").format(sql.Identifier(name))
        row = conn.execute(query).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def _roles(conn: psycopg.Connection[Any], names: list[str]) -> list[dict[str, Any]]:
    """The runtime roles' attributes a restore recreates (never their passwords: pg_roles hides them)."""
    rows = conn.execute(
        "select rolname, rolcanlogin, rolconnlimit from pg_roles where rolname = any(%s) order by 1", (names,)
    )
    return [{"name": name, "login": login, "connection_limit": limit} for name, login, limit in rows]


def _backup_postgres(settings: Settings, output: Path) -> Outcome:
    pg_dump = _tool("pg_dump")
    connection = _Connection.of(settings.backup_db_url)
    with connection.connect(autocommit=True) as conn:
        if not _bypasses_rls(conn):
            raise BackupError(
                f"role {connection.user!r} is neither superuser nor BYPASSRLS: row-level security would hide rows "
                "from its dump. Back up as the administrative role or a BYPASSRLS backup role (docs/backups.md)."
            )
        # One snapshot for the counts and for pg_dump, held open until pg_dump has finished.
        conn.execute("begin isolation level repeatable read read only")
        snapshot_row = conn.execute("select pg_export_snapshot()").fetchone()
        assert snapshot_row is not None
        rows = _postgres_counts(conn)
        revision = None
        if "alembic_version" in rows:
            revision = conn.execute("select version_num from alembic_version").fetchone()
        manifest = {
            "format": MANIFEST_FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": conn.info.dbname,
            "server_version": conn.info.server_version,
            "revision": revision[0] if revision else None,
            "roles": _roles(conn, [settings.db_auth_role, settings.db_mcp_role]),
            "rows": rows,
        }
        with _written_privately(output) as partial:
            args = [pg_dump, "--format=custom", f"--snapshot={snapshot_row[0]}", "--no-password"]
            _run([*args, f"--file={partial}", f"--dbname={connection.uri}"], connection)
            with _written_privately(manifest_path(output)) as manifest_partial:
                manifest_partial.write_text(json.dumps(manifest, indent=2) + "\n")
        conn.execute("commit")
    return Outcome([output, manifest_path(output)], rows)


def _read_manifest(source: Path) -> dict[str, Any]:
    path = manifest_path(source)
    if not path.is_file():
        raise BackupError(f"{path} is missing: it names the roles and row counts of {source.name}; keep them together")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{path} has format {manifest.get('format')!r}; this version reads {MANIFEST_FORMAT}")
    return manifest


def _ensure_roles(conn: psycopg.Connection[Any], settings: Settings, roles: list[dict[str, Any]]) -> None:
    """Create the runtime roles the dump grants to, as migration 0002 does: never superuser or BYPASSRLS.

    Passwords are never in a backup: the configured ones are set, as the migrations set them.
    """
    passwords = {settings.db_auth_role: settings.db_auth_password, settings.db_mcp_role: settings.db_mcp_password}
    for role in roles:
        name = sql.Identifier(role["name"])
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role["name"],)).fetchone()
        if not exists:
            login = sql.SQL("login" if role["login"] else "nologin")
            conn.execute(
                sql.SQL("create role {} {} nosuperuser nobypassrls nocreaterole nocreatedb connection limit {}").format(
                    name, login, sql.Literal(int(role["connection_limit"]))
                )
            )
        if password := passwords.get(role["name"]):
            conn.execute(sql.SQL("alter role {} password {}").format(name, sql.Literal(password)))
        conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(conn.info.dbname), name))


def _restore_postgres(settings: Settings, source: Path, *, force: bool) -> Outcome:
    pg_restore = _tool("pg_restore")
    manifest = _read_manifest(source)
    connection = _Connection.of(settings.admin_database_url)
    with connection.connect(autocommit=True) as conn:
        if not _bypasses_rls(conn):
            raise BackupError(
                f"role {connection.user!r} is neither superuser nor BYPASSRLS: restore as the administrative role "
                "that runs the migrations"
            )
        existing = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
        if existing and existing[0] and not force:
            raise BackupError(
                f"database {conn.info.dbname!r} is not empty ({existing[0]} tables): restore into an empty database, "
                "or stop the servers and pass --force to replace what the backup holds"
            )
        _ensure_roles(conn, settings, manifest["roles"])
    args = [pg_restore, "--no-owner", "--single-transaction", "--exit-on-error", "--no-password"]
    if force:
        args += ["--clean", "--if-exists"]
    _run([*args, f"--dbname={connection.uri}", str(source)], connection)
    with connection.connect() as conn:
        rows = _postgres_counts(conn)
    if rows != manifest["rows"]:
        differ = sorted(t for t in set(rows) | set(manifest["rows"]) if rows.get(t) != manifest["rows"].get(t))
        raise BackupError(f"restored row counts differ from the backup's in: {', '.join(differ)}")
    return Outcome([source], rows)
