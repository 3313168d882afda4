"""Who may sign in and post: ``users ...`` and ``apikeys ...``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cli._common import configured_engine, emit

if TYPE_CHECKING:
    pass


def cmd_apikeys_create(args: argparse.Namespace) -> int:
    """Create an API key for an agency and print it once."""
    from domain.roles import Viewer
    from security.apikeys import create_key
    from security.audit import record
    from store.engine import session_scope

    with session_scope(configured_engine()) as session:
        key, stored = create_key(session=session, agency=args.agency, label=args.label)
        prefix = stored.prefix
        record(
            session=session,
            viewer=Viewer.system(),
            action="key.add",
            object=prefix,
            details={"agency": args.agency, "label": args.label},
        )
    emit(
        args,
        {"agency": args.agency, "key": key, "prefix": prefix},
        f"API key for {args.agency} (shown once, store it safely):\n{key}",
    )
    return 0


def cmd_apikeys_revoke(args: argparse.Namespace) -> int:
    """Revoke an API key by its prefix."""
    from domain.roles import Viewer
    from security.apikeys import revoke_key
    from security.audit import record
    from store.engine import session_scope

    with session_scope(configured_engine()) as session:
        n = revoke_key(session=session, prefix=args.prefix)
        record(
            session=session,
            viewer=Viewer.system(),
            action="key.revoke",
            object=args.prefix,
            outcome="ok" if n else "error",
            details={"revoked": n},
        )
    emit(args, {"revoked": n}, f"revoked {n} key(s)")
    return 0 if n else 1


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create a user; the password comes from stdin or is a printed one-time password."""
    from domain.roles import Viewer
    from security.users import add_user
    from store.engine import session_scope

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    with session_scope(configured_engine()) as session:
        user, otp = add_user(
            session=session,
            actor=Viewer.system(),
            username=args.name,
            role=args.role,
            agency=args.agency,
            password=password,
        )
        payload: dict[str, object] = {
            "username": user.username,
            "role": user.role,
            "agency": user.agency,
        }
    text = f"user {args.name} added"
    if otp:
        payload["one_time_password"] = otp
        text += f"; one-time password (must be changed at first sign-in): {otp}"
    emit(args, payload, text)
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    """Disable (or with --enable, enable again) a user; their sessions end."""
    from domain.roles import Viewer
    from security.users import set_disabled
    from store.engine import session_scope

    with session_scope(configured_engine()) as session:
        set_disabled(
            session=session, actor=Viewer.system(), username=args.name, disabled=not args.enable
        )
    state = "enabled" if args.enable else "disabled"
    emit(args, {"username": args.name, "state": state}, f"user {args.name} {state}")
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    """Give a user a new one-time password, unlock them and end their sessions."""
    from domain.roles import Viewer
    from security.users import reset_password
    from store.engine import session_scope

    with session_scope(configured_engine()) as session:
        otp = reset_password(session=session, actor=Viewer.system(), username=args.name)
    emit(
        args,
        {"username": args.name, "one_time_password": otp},
        f"user {args.name} reset; one-time password (must be changed at sign-in): {otp}",
    )
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    """List the users with role, agency and state."""
    from security.users import list_users
    from store.engine import session_scope

    with session_scope(configured_engine()) as session:
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "agency": u.agency,
                "disabled": u.disabled,
                "demo": u.is_demo,
                "must_change_password": u.must_change_password,
                "locked_until": u.locked_until,
                "last_sign_in_at": u.last_sign_in_at,
            }
            for u in list_users(session=session)
        ]
    text = "\n".join(
        f"{r['username']:<24} {r['role']:<14} {r['agency']:<16}"
        + (" disabled" if r["disabled"] else "")
        + (" demo" if r["demo"] else "")
        for r in rows
    )
    emit(args, {"users": rows}, text or "no users")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the apikeys, users commands to ``sub``."""
    keys = sub.add_parser("apikeys", help="partner API keys (stored hashed)")
    keys_sub = keys.add_subparsers(dest="apikeys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="create a key for AGENCY and print it once")
    create.add_argument("agency")
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(func=cmd_apikeys_create)
    revoke = keys_sub.add_parser("revoke", help="revoke the key(s) with this prefix")
    revoke.add_argument(
        "prefix",
        help="the key's prefix (wf_PREFIX_...); one that begins with '-' goes after '--'",
    )
    revoke.add_argument("--json", action="store_true", help="print one JSON object")
    revoke.set_defaults(func=cmd_apikeys_revoke)

    users = sub.add_parser("users", help="user accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="watch_officer, command, analyst, ...")
    add.add_argument("--agency", required=True)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else print a one-time one)",
    )
    add.set_defaults(func=cmd_users_add)
    dis = users_sub.add_parser("disable", help="disable a user (ends their sessions)")
    dis.add_argument("name")
    dis.add_argument("--enable", action="store_true", help="enable the user again")
    dis.set_defaults(func=cmd_users_disable)
    reset = users_sub.add_parser("reset", help="new one-time password, unlock")
    reset.add_argument("name")
    reset.set_defaults(func=cmd_users_reset)
    lst = users_sub.add_parser("list", help="list users")
    lst.set_defaults(func=cmd_users_list)
    for p in (add, dis, reset, lst):
        p.add_argument("--json", action="store_true", help="print one JSON object")
