"""``authserver check``: is this deployment configured and migrated as it must be?

Checks what breaks clients or security quietly rather than loudly: issuer and resource URLs
(clients compare them byte for byte), the database (reachable, at the newest migration),
and on Postgres the Row-Level Security backstop (runtime roles exist and cannot bypass it;
every table has RLS forced and a policy). Prints every problem found, exits 1 if any.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import typer
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from authserver.cli.database import admin_url, load_settings
from authserver.cli.output import JsonOption, err, out, print_json
from shared.db import backend_of, make_engine
from shared.schema import MIGRATIONS_DIR, current_revision
from shared.settings import Settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

UNPROTECTED_TABLES = """
select c.relname from pg_class c
where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
  and c.relname <> 'alembic_version'
  and not (c.relrowsecurity and c.relforcerowsecurity
           and exists (select 1 from pg_policy p where p.polrelid = c.oid))
order by 1
"""


def url_problems(name: str, url: str) -> list[str]:
    """Why ``url`` (the value of setting ``name``) would confuse clients or leak tokens."""
    parts = urlsplit(url)
    problems = []
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{name} {url!r} is not an absolute http(s) URL"]
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        problems.append(f"{name} {url} must use https (plain http only on a loopback address)")
    if url.endswith("/"):
        problems.append(f"{name} {url} must not end with a slash (clients compare it byte for byte)")
    if parts.username or parts.password:
        problems.append(f"{name} {url} must not contain user information")
    if parts.query or parts.fragment:
        problems.append(f"{name} {url} must not have a query or fragment")
    return problems


def configuration_problems(settings: Settings) -> list[str]:
    problems = url_problems("issuer_url", settings.issuer_url)
    for index, resource in enumerate(settings.resource_urls):
        name = "resource_url" if index == 0 else "extra_resource_urls"
        problems += url_problems(name, resource)
        if urlsplit(resource).path in ("", "/"):
            problems.append(f"{name} {resource} has no path: use one such as …/mcp (some clients add a slash)")
        if resource == settings.issuer_url:
            problems.append(f"{name} {resource} is the issuer URL: the resource must be the MCP endpoint")
    return problems


def database_problems(settings: Settings, url: str) -> list[str]:
    try:
        engine = make_engine(url, pool_size=1)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except (SQLAlchemyError, ValueError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return [f"the database cannot be reached: {reason}"]
    try:
        problems = _migration_problems(settings)
        if backend_of(url) == "postgresql":
            problems += _postgres_problems(settings, engine)
        return problems
    finally:
        engine.dispose()


def _migration_problems(settings: Settings) -> list[str]:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    current = current_revision(settings)
    if current == head:
        return []
    if current is None:
        return ["the database has no schema: run `authserver db upgrade`"]
    return [f"the database is at migration {current}, not at the newest ({head}): run `authserver db upgrade`"]


def _postgres_problems(settings: Settings, engine: Engine) -> list[str]:
    problems = []
    with engine.connect() as connection:
        roles = {settings.db_auth_role: "auth", settings.db_mcp_role: "MCP"}
        found = connection.execute(
            text("select rolname, rolsuper, rolbypassrls from pg_roles where rolname = any(:names)"),
            {"names": list(roles)},
        ).all()
        attributes = {name: (superuser, bypass) for name, superuser, bypass in found}
        for role, purpose in roles.items():
            if role not in attributes:
                problems.append(f"the {purpose} role {role} does not exist: run `authserver db upgrade`")
            elif any(attributes[role]):
                problems.append(f"the {purpose} role {role} is a superuser or has BYPASSRLS: RLS would not hold")
        for (table,) in connection.execute(text(UNPROTECTED_TABLES)):
            problems.append(f"table {table} does not have row-level security enabled, forced and with a policy")
    return problems


def check(as_json: JsonOption = False) -> None:
    """Check configuration and database; list every problem and exit 1 if there is any."""
    settings = load_settings()
    url = admin_url(settings)
    problems = configuration_problems(settings) + database_problems(settings, url)
    if as_json:
        print_json({"ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            err.print(f"[bold red]problem:[/] {problem}", highlight=False, soft_wrap=True)
    else:
        out.print(f"ok: {settings.issuer_url} issues tokens for {', '.join(settings.resource_urls)}", highlight=False)
    if problems:
        raise typer.Exit(1)
