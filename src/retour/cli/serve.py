"""Commands for the dashboard: `retour serve` runs it, `retour users` manages who may sign in."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from retour.cli.common import FormatOption, OutputFormat, StudyDir, app, emit, info


@app.command("serve")
def serve_command(
    study: StudyDir,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; keep 127.0.0.1 unless a "
                                                     "reverse proxy with HTTPS sits in front.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
    secure_cookies: Annotated[bool, typer.Option(
        "--secure-cookies", help="Mark the cookies Secure (sent over HTTPS only), for a dashboard served "
                                 "over HTTPS by a reverse proxy; same as `[dashboard] secure_cookies`.")
                              ] = False,
) -> None:
    """Start the study's dashboard (a web app) and keep it running until Ctrl+C.

    Every page but the sign-in page needs a user: add one first with `retour users DIR add`. The
    dashboard reads the store between requests only, so other retour commands can run meanwhile.
    Behind a reverse proxy with HTTPS, add --secure-cookies and list the proxy's address in
    `[dashboard] trusted_proxies`.

    Example:
        retour users my-study add amina --role admin
        retour serve my-study --port 8000
    """
    from retour.config import load_project
    from retour.store_backup import check_store
    from retour.study import serve_dashboard

    project = load_project(study)
    check_store(project.store_path)  # a damaged store: one line and the way back, before listening (issue 22)
    serve_dashboard(project, host, port, notify=info, secure_cookies=secure_cookies)


users_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(users_app, name="users")


class UserRole(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


class UserLanguage(StrEnum):
    FR = "fr"
    EN = "en"


UserName = Annotated[str, typer.Argument(help="The user's sign-in name.", show_default=False)]
PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input instead of asking.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.callback()
def users_group(context: typer.Context, study: StudyDir) -> None:
    """Manage who may sign in to the dashboard, and with which role.

    Roles: viewer (reads every page), analyst (also uploads exports, overrides needs, edits actors),
    admin (everything). Passwords are stored hashed with Argon2.

    Example:
        retour users my-study add amina --role analyst
        retour users my-study list
    """
    from retour.config import load_project

    context.obj = load_project(study)


@users_app.command("add")
def users_add_command(
    context: typer.Context,
    name: UserName,
    role: Annotated[UserRole, typer.Option("--role", help="What the user may do.")] = UserRole.VIEWER,
    language: Annotated[UserLanguage, typer.Option("--language", help="Language of the dashboard.")
                        ] = UserLanguage.FR,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a dashboard user with a role; asks for the password (twice) unless --password-stdin.

    Example:
        retour users my-study add amina --role analyst
        echo "$PASSWORD" | retour users my-study add ci-bot --role viewer --password-stdin
    """
    from retour.study import add_dashboard_user

    user = add_dashboard_user(context.obj, name, _password(password_stdin), role.value, language.value)
    info(f"Added {user['name']} ({user['role']}).")


@users_app.command("list")
def users_list_command(context: typer.Context, output: FormatOption = OutputFormat.TABLE) -> None:
    """List the dashboard users with their role and language (never their password).

    Example:
        retour users my-study list --format json
    """
    from retour.study import list_dashboard_users

    emit(list_dashboard_users(context.obj), output, title="Dashboard users",
         columns=["name", "role", "language", "created_at", "password_changed_at"])


@users_app.command("role")
def users_role_command(
    context: typer.Context,
    name: UserName,
    role: Annotated[UserRole, typer.Argument(help="The user's new role.", show_default=False)],
) -> None:
    """Give a dashboard user another role; their open sessions end, so they sign in again with it.

    Example:
        retour users my-study role amina admin
    """
    from retour.study.dashboard import change_dashboard_role

    user = change_dashboard_role(context.obj, name, role.value)
    info(f"{user['name']} is now {user['role']}.")


@users_app.command("remove")
def users_remove_command(context: typer.Context, name: UserName) -> None:
    """Remove a dashboard user; their open sessions end at once.

    Example:
        retour users my-study remove amina
    """
    from retour.study import remove_dashboard_user

    remove_dashboard_user(context.obj, name)
    info(f"Removed {name}.")


@users_app.command("passwd")
def users_passwd_command(context: typer.Context, name: UserName,
                         password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a dashboard user; their open sessions end.

    Example:
        retour users my-study passwd amina
    """
    from retour.study import change_dashboard_password

    change_dashboard_password(context.obj, name, _password(password_stdin))
    info(f"Changed the password of {name}.")
