"""The ``daiyun`` command: migrations, the all-in-one server, the scale-out processes, admin.

Every command owns its transaction (ARCHITECTURE.md rule 1): it opens a unit of work, calls the
services, and the unit of work commits. A mistake by the operator (a bad argument, a refused
action, an unreachable database) ends in one line on stderr and a non-zero exit, never a
traceback; a traceback means a bug.
"""

from __future__ import annotations

import functools
import socket
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from alembic.config import Config
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from daiyun import demo_children, departments
from daiyun.core.config import VAR_DIR, get_settings
from daiyun.core.errors import Problem
from daiyun.core.tasks import QUEUES
from daiyun.sandboxes import commands as sandbox_commands
from daiyun.supervisor import Child, Supervisor

PACKAGE_ROOT = Path(__file__).resolve().parent
# The checkout (or unpacked source) that holds alembic.ini and migrations/ beside the package.
REPO_ROOT = PACKAGE_ROOT.parent
API_PREFIX = "/api/v1"

app = typer.Typer(
    name="daiyun",
    help="Daiyun (代运营): the operating system of an e-commerce agency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _map_every_model() -> None:
    # Before any command runs: every table's mapper, so every foreign key resolves.
    departments.load_models()


P = ParamSpec("P")
R = TypeVar("R")

# Click's base error, whichever click typer runs on (recent typer versions vendor their own).
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class CLIError(Exception):
    """A refusal the operator can act on; printed as one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "invalid input"


def _describe_database(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    hint = ""
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        hint = " (run `daiyun migrate` first)"
    return f"database: {first}{hint}"


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors an operator can cause into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CLIError as exc:
            _fail(str(exc), exc.code)
        except Problem as exc:
            _fail(exc.detail)
        except ValidationError as exc:
            _fail(_describe_validation(exc))
        except SQLAlchemyError as exc:  # ArgumentError (a malformed URL) included
            _fail(_describe_database(exc))

    return run


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable url>"


def _sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///`` or ``sqla+sqlite:///`` URL, if it is a file."""
    if "sqlite" not in url.split("://", 1)[0]:
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def _ensure_parent(url: str) -> None:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _is_sqlite_broker(url: str) -> bool:
    return url.startswith("sqla+sqlite")


# --- migrations ---------------------------------------------------------------------------


def alembic_config(owner_url: str, app_url: str) -> Config:
    """Alembic's configuration, found relative to the package so any working directory works."""
    migrations = REPO_ROOT / "migrations"
    if not (migrations / "env.py").is_file():
        raise CLIError(f"no migrations beside the package (looked in {migrations})")
    ini = REPO_ROOT / "alembic.ini"
    config = Config(str(ini)) if ini.is_file() else Config()
    config.set_main_option("script_location", str(migrations).replace("%", "%%"))
    config.attributes["owner_url"] = owner_url
    config.attributes["app_url"] = app_url
    return config


def run_migrations() -> str:
    """Upgrade to head as the schema owner (granting the app role its access); return head."""
    from alembic import command
    from alembic.script import ScriptDirectory

    settings = get_settings()
    _ensure_parent(settings.database_url)
    _ensure_parent(settings.owner_database_url)
    config = alembic_config(settings.owner_database_url, settings.database_url)
    command.upgrade(config, "head")
    return ScriptDirectory.from_config(config).get_current_head() or "base"


@app.command()
@friendly
def migrate() -> None:
    """Upgrade the database to the latest schema.

    Runs as DAIYUN_MIGRATION_DATABASE_URL (the owner) when set; on PostgreSQL it then creates the
    role of DAIYUN_DATABASE_URL if needed and grants it data access only.
    """
    revision = run_migrations()
    typer.echo(f"Database {_redact(get_settings().database_url)} is at revision {revision}.")


# --- the scale-out processes ---------------------------------------------------------------


def _sandbox_children(me: list[str]) -> list[Child]:
    """The demo's companions (:mod:`daiyun.demo_children`), once their ports are free and the
    demo has written its shops."""
    for port in demo_children.ports():
        _check_port("127.0.0.1", port)
    shops = VAR_DIR / demo_children.SANDBOX_SHOPS
    if not shops.exists():
        raise CLIError(f"{shops} is missing: run `daiyun demo` first")
    return demo_children.sandbox_children(me, shops)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _uvicorn_level() -> str:
    level = get_settings().log_level.lower()
    return level if level in {"critical", "error", "warning", "info", "debug", "trace"} else "info"


@app.command()
@friendly
def api(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Run the HTTP API (run several behind a load balancer; migrate first).

    `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from DAIYUN_TRUSTED_PROXIES
    (default: from nobody), the same list the sign-in throttle trusts.
    """
    import uvicorn

    from daiyun.core.observability import prepare_multiprocess_metrics

    _check_port(host, port)
    # Workers share a metrics directory, so /metrics counts every worker's requests.
    prepare_multiprocess_metrics(workers)
    uvicorn.run(
        "daiyun.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=_uvicorn_level(),
        # The app logs every request itself, with its request id and tenant.
        access_log=False,
        **proxy_options(),
    )


def proxy_options() -> dict[str, Any]:
    """uvicorn's proxy settings from DAIYUN_TRUSTED_PROXIES. Left unset, uvicorn would trust
    forwarded headers from 127.0.0.1 (or $FORWARDED_ALLOW_IPS): anything on the host could
    then pick the client address the sign-in throttle counts."""
    from daiyun.tenants.auth.addresses import parse_trusted_proxies

    try:
        networks = parse_trusted_proxies(get_settings().trusted_proxies)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    if not networks:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": [str(n) for n in networks]}


class Pool(StrEnum):
    prefork = "prefork"
    threads = "threads"
    solo = "solo"


def parse_queues(value: str) -> list[str]:
    """Comma-separated queue names, each one of :data:`daiyun.core.tasks.QUEUES`."""
    names = list(dict.fromkeys(q.strip() for q in value.split(",") if q.strip()))
    unknown = [q for q in names if q not in QUEUES]
    if unknown or not names:
        label = ", ".join(repr(q) for q in unknown) or "(none given)"
        raise CLIError(f"unknown queue {label}; choose from {', '.join(QUEUES)}", code=2)
    return names


def worker_argv(queues: list[str], concurrency: int | None, pool: Pool | None) -> list[str]:
    """The ``celery worker`` arguments for these queues on the configured broker."""
    sqlite_broker = _is_sqlite_broker(get_settings().broker_url)
    if pool is None:
        # The SQLite broker is a single file: one consumer thread is what it serves well.
        if sqlite_broker:
            pool = Pool.threads if concurrency and concurrency > 1 else Pool.solo
        else:
            pool = Pool.prefork
    argv = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--pool={pool.value}",
        f"--loglevel={get_settings().log_level.upper()}",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if sqlite_broker:
        # Gossip, mingle and heartbeats need a fanout exchange the SQL transport lacks.
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return argv


def _exit_with(code: object) -> None:
    """Pass a Celery command's exit status on (it returns it rather than exiting)."""
    if isinstance(code, int) and code:
        raise typer.Exit(code)


@app.command()
@friendly
def worker(
    queues: Annotated[
        str, typer.Option(help=f"Comma-separated queues, any of: {', '.join(QUEUES)}")
    ] = ",".join(QUEUES),
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Tasks run at once (default: the CPU count)")
    ] = None,
    pool: Annotated[
        Pool | None,
        typer.Option(help="Execution pool (default: solo on the SQLite broker, else prefork)"),
    ] = None,
) -> None:
    """Run a Celery worker consuming the given queues (size one per queue at scale)."""
    names = parse_queues(queues)
    settings = get_settings()
    _ensure_parent(settings.broker_url)
    from daiyun.worker import celery_app

    _exit_with(celery_app.start(worker_argv(names, concurrency, pool)))


@app.command()
@friendly
def beat(
    schedule: Annotated[
        Path, typer.Option(help="Where beat keeps its schedule state (must be writable)")
    ] = VAR_DIR / "celerybeat-schedule",
) -> None:
    """Run Celery beat, the periodic scheduler (exactly one per deployment)."""
    schedule.parent.mkdir(parents=True, exist_ok=True)
    _ensure_parent(get_settings().broker_url)
    from daiyun.worker import celery_app

    _exit_with(
        celery_app.start(
            ["beat", f"--schedule={schedule}", f"--loglevel={get_settings().log_level.upper()}"]
        )
    )


# --- serve: everything in one command ------------------------------------------------------


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _prepare_broker() -> None:
    """Reach the broker once before the children start (the SQL transport creates its tables
    here, rather than three processes racing to)."""
    from kombu.exceptions import KombuError

    from daiyun.core.tasks import celery_app

    url = get_settings().broker_url
    _ensure_parent(url)
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=2, timeout=5)
            connection.default_channel  # noqa: B018  (opening it creates the SQL tables)
    except (KombuError, OSError) as exc:
        raise CLIError(f"the broker {_redact(url)} does not answer: {exc}") from exc


@app.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="Address for the API to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the API")] = 8000,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Also run the sandbox marketplaces for the demo shops (`daiyun demo` first)",
        ),
    ] = False,
) -> None:
    """Migrate, then run the API, a worker on every queue and beat together (Ctrl-C stops all).

    On the embedded defaults everything lives under ./var/: the SQLite database, the SQLite
    broker and beat's schedule.
    """
    _check_port(host, port)
    revision = run_migrations()
    _prepare_broker()
    url = _url(host, port)
    me = [sys.executable, "-m", "daiyun.cli"]
    children = [
        Child("api", [*me, "api", "--host", host, "--port", str(port)]),
        Child("worker", [*me, "worker", "--queues", ",".join(QUEUES)]),
        Child("beat", [*me, "beat", "--schedule", str(VAR_DIR / "celerybeat-schedule")]),
        Child("push", [*me, "push-consumers"]),
    ]
    if sandbox:
        children.extend(_sandbox_children(me))
    typer.echo(
        f"Database at revision {revision}. Starting the API on {url}, a worker on queues"
        f" {', '.join(QUEUES)}, beat and the push consumers..."
    )

    def ready() -> None:
        typer.echo(
            f"\nDaiyun is running on {url}\n"
            f"  API docs   {url}{API_PREFIX}/docs\n"
            f"  readiness  {url}/readyz\n"
            "Press Ctrl-C to stop.\n"
        )

    probe = ("127.0.0.1" if host in ("0.0.0.0", "") else host, port)  # noqa: S104
    code = Supervisor(children, probe, ready).run()
    if code:
        raise typer.Exit(code)


# --- administration -----------------------------------------------------------------------


def _read_password() -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise CLIError("no password given: pass --password, or one line on standard input")
        return line
    try:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    except typer.Abort as exc:
        raise CLIError("no password given") from exc


@app.command("create-admin")
@friendly
def create_admin(
    email: Annotated[str, typer.Argument(help="The admin's e-mail address (their login)")],
    password: Annotated[
        str | None,
        typer.Option(
            help="At least 10 characters. When omitted: asked for (hidden, twice) in a"
            " terminal, else read as one line from standard input"
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the e-mail's local part)")
    ] = None,
) -> None:
    """Create an agency admin, who sees and manages every tenant."""
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.auth.permissions import Role
    from daiyun.tenants.auth.schemas import UserCreate
    from daiyun.tenants.auth.users import create_user

    if password is None:
        password = _read_password()
    data = UserCreate(
        email=email,
        name=name or email.split("@", 1)[0] or email,
        password=password,
        role=Role.agency_admin,
    )
    try:
        with unit_of_work() as session:
            user = create_user(session, data)
    except Problem as exc:
        if exc.kind == "user-not-created":
            raise CLIError(f"could not create {data.email}: is it already registered?") from exc
        raise
    typer.echo(f"Created agency admin {user.email} (id {user.id}).")


@app.command()
@friendly
def demo(
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Seed even into a non-SQLite database (the password is public!)"
        ),
    ] = False,
) -> None:
    """Migrate, then create the demo agency (three merchants, every role) and print its logins.

    Safe to run again: what exists is left alone and the same logins are printed.
    """
    from daiyun.demo import login_table, seed, storefronts, write_sandbox_shops

    settings = get_settings()
    if not settings.is_sqlite and not force:
        raise CLIError(
            "the demo logins share a published password; to seed them into"
            f" {_redact(settings.database_url)} anyway, pass --force"
        )
    run_migrations()
    result = seed()
    write_sandbox_shops(VAR_DIR / demo_children.SANDBOX_SHOPS)
    if result.changed:
        typer.echo(f"Created the demo agency ({len(result.created)} records).")
    else:
        typer.echo("The demo agency is already in place; nothing changed.")
    typer.echo(f"\nDemo logins (every password is {result.password}):\n")
    for row in login_table(result.logins):
        typer.echo(f"  {row}")
    base = settings.base_url.rstrip("/")
    admin = result.logins[0].email
    typer.echo(
        "\nStart everything with `daiyun serve` (or `make demo`), then sign in and list tenants:\n"
        f"  curl -d 'username={admin}&password={result.password}' {base}{API_PREFIX}/auth/token\n"
        f"  curl -H 'Authorization: Bearer <access_token>' {base}{API_PREFIX}/tenants"
    )
    typer.echo("\nThe merchants' own storefronts, with the chat widget (answered in the inbox):")
    for url in storefronts():
        typer.echo(f"  {url}")


for _module in departments.command_modules():
    _module.register(app)
sandbox_commands.register(app)


def main() -> None:
    """The ``daiyun`` entry point: usage errors, too, are one line on stderr."""
    try:
        code = app(prog_name="daiyun", standalone_mode=False)
    except _USAGE_ERROR as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo(f"error: {message} (see `daiyun --help`)", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except (Problem, ValidationError, SQLAlchemyError, CLIError) as exc:
        message = (
            _describe_validation(exc)
            if isinstance(exc, ValidationError)
            else _describe_database(exc)
            if isinstance(exc, SQLAlchemyError)
            else exc.detail
            if isinstance(exc, Problem)
            else str(exc)
        )
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
