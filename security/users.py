"""User accounts: create, disable, reset, list, sign-in with lockout, and the demo users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, case, literal, or_, select, update
from sqlalchemy.orm import Session

from domain.roles import Role, Viewer
from security.audit import record
from security.passwords import hash_password, one_time_password, policy_problem, verify_password
from settings import get_settings
from store.base import utcnow
from store.engine import session_scope
from store.models import User

# Clearly labelled demo accounts, created only with the demo data (README lists them).
DEMO_PASSWORD = "watchfloor-demo"
DEMO_USERS: tuple[tuple[str, Role, str | None], ...] = (
    ("demo-officer", Role.WATCH_OFFICER, None),  # None: the host agency
    ("demo-command", Role.COMMAND, None),
    ("demo-analyst", Role.ANALYST, None),
    ("demo-admin", Role.ADMINISTRATOR, None),
    ("demo-auditor", Role.AUDITOR, None),  # reads the whole audit trail, details included
    ("demo-partner", Role.PARTNER, "MA-DEMO-PARTNER"),
)
SIGNABLE_ROLES = tuple(r for r in Role if r is not Role.SYSTEM)


# One answer for a wrong current password and a locked account: the form tells nothing more.
WRONG_CURRENT = (
    "the current password was not accepted; after repeated failures the account is locked "
    "for a while"
)


class AccountError(ValueError):
    """A user command that cannot be done (unknown user, bad role, weak password)."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: the user on success, else why not."""

    user: User | None
    reason: str = ""


def viewer_of(user: User) -> Viewer:
    """Return the viewer a signed-in user queries as."""
    return Viewer(username=user.username, role=Role(user.role), agency=user.agency)


def get_user(*, session: Session, username: str) -> User | None:
    """Return the user called ``username``, or ``None``."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def _require(session: Session, username: str) -> User:
    user = get_user(session=session, username=username)
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


def add_user(
    *,
    session: Session,
    actor: Viewer,
    username: str,
    role: str,
    agency: str,
    password: str | None = None,
    is_demo: bool = False,
) -> tuple[User, str | None]:
    """Create a user; without ``password`` a one-time password is made and returned.

    Returns
    -------
    tuple
        The user, and the one-time password to hand over (``None`` when one was given).
    """
    if role not in {r.value for r in SIGNABLE_ROLES}:
        raise AccountError(f"unknown role {role!r}; one of {[r.value for r in SIGNABLE_ROLES]}")
    if not username or not agency:
        raise AccountError("a user needs a name and an agency")
    if get_user(session=session, username=username) is not None:
        raise AccountError(f"user {username!r} exists")
    otp = None
    if password is None:
        otp = password = one_time_password()
    elif not is_demo and (problem := policy_problem(password, username)):
        raise AccountError(problem)
    user = User(
        username=username,
        role=role,
        agency=agency,
        password_hash=hash_password(password),
        must_change_password=otp is not None,
        disabled=False,
        is_demo=is_demo,
        failed_attempts=0,
        auth_epoch=0,
    )
    session.add(user)
    session.flush()
    record(
        session=session,
        viewer=actor,
        action="user.add",
        object=username,
        details={"role": role, "agency": agency},
    )
    return user, otp


def set_disabled(*, session: Session, actor: Viewer, username: str, disabled: bool) -> User:
    """Disable (or enable) a user; disabling ends their open sessions."""
    user = _require(session, username)
    user.disabled = disabled
    user.auth_epoch += 1
    record(
        session=session,
        viewer=actor,
        action="user.disable" if disabled else "user.enable",
        object=username,
    )
    return user


def reset_password(*, session: Session, actor: Viewer, username: str) -> str:
    """Give a user a new one-time password (returned), unlock them and end their sessions."""
    user = _require(session, username)
    otp = one_time_password()
    user.password_hash = hash_password(otp)
    user.must_change_password = True
    user.failed_attempts = 0
    user.locked_until = None
    user.auth_epoch += 1
    record(session=session, viewer=actor, action="user.reset", object=username)
    return otp


def change_password(
    *,
    session: Session,
    user: User,
    current: str,
    new: str,
    max_attempts: int | None = None,
    lockout: timedelta | None = None,
    now: datetime | None = None,
) -> str | None:
    """Change a user's own password; return why not, or ``None`` on success.

    The current password is checked like a sign-in: a wrong one counts towards the lockout
    (``max_attempts`` failures lock the account for ``lockout``; by default the configured
    ``WATCHFLOOR_LOCKOUT_ATTEMPTS`` and ``_MINUTES``), a locked account is refused even with the
    right one, and in a request the check is counted against the client's address
    (:mod:`security.throttle`). Every attempt is audited.
    """
    now = now or utcnow()
    if max_attempts is None or lockout is None:
        configured = get_settings()
        max_attempts = configured.lockout_attempts if max_attempts is None else max_attempts
        lockout = timedelta(minutes=configured.lockout_minutes) if lockout is None else lockout
    ok = verify_password(user.password_hash, current)
    reason = _count_attempt(session, user.id, ok, max_attempts, now, now + lockout, signin=False)
    problem: str | None
    if reason:
        problem = WRONG_CURRENT
    elif new == current:
        problem = "the new password must differ from the current one"
    else:
        problem = policy_problem(new, user.username)
    if problem is None:
        user.password_hash = hash_password(new)
        user.must_change_password = False
        user.auth_epoch += 1
    record(
        session=session,
        viewer=viewer_of(user),
        action="user.password",
        object=user.username,
        outcome="ok" if problem is None else "denied",
        details={"reason": reason or problem} if problem else None,
    )
    return problem


def list_users(*, session: Session) -> list[User]:
    """Return every user, by name."""
    return list(session.execute(select(User).order_by(User.username)).scalars())


def authenticate(
    *,
    engine: Engine,
    username: str,
    password: str,
    max_attempts: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in, count failures, lock after ``max_attempts``; every attempt is audited.

    A locked account is refused even with the right password, so guessing stops counting.
    The password is checked outside any transaction; the attempt is then counted by one
    ``UPDATE ... RETURNING`` that only touches an unlocked account, so concurrent attempts
    (threads, gunicorn workers) can neither lose a count nor go past the limit.
    """
    now = now or utcnow()
    with session_scope(engine) as session:
        user = get_user(session=session, username=username)
    ok = verify_password(user.password_hash if user else None, password)
    with session_scope(engine) as session:
        if user is None:
            reason = "unknown user"
        elif user.disabled:
            reason = "disabled"
        else:
            # First statement of the transaction: SQLite takes its write lock here and waits
            # (busy_timeout) for other writers instead of failing on a stale read snapshot.
            reason = _count_attempt(session, user.id, ok, max_attempts, now, now + lockout)
        # An unknown name is logged as typed, with no agency and the least-privileged role.
        actor = viewer_of(user) if user else Viewer(username[:64], Role.PARTNER, agency="")
        record(
            session=session,
            viewer=actor,
            action="signin",
            object=username[:256],
            outcome="denied" if reason else "ok",
            details={"reason": reason} if reason else None,
        )
    if user is not None and not reason:
        user.failed_attempts, user.locked_until, user.last_sign_in_at = 0, None, now
    return SignIn(user=None if reason else user, reason=reason)


def _count_attempt(
    session: Session,
    user_id: int,
    ok: bool,
    max_attempts: int,
    now: datetime,
    until: datetime,
    *,
    signin: bool = True,
) -> str:
    """Record one attempt atomically; return why it failed ("" when it succeeded).

    ``signin``: a success is a sign-in (its time is kept); else a password form's check.
    """
    unlocked = and_(User.id == user_id, or_(User.locked_until.is_(None), User.locked_until <= now))
    if ok:
        reset = {"failed_attempts": 0, "locked_until": None}
        done = session.execute(
            update(User)
            .where(unlocked)
            .values(**reset, **({"last_sign_in_at": now} if signin else {}))
            .returning(User.id)
            .execution_options(synchronize_session=False)
        ).first()
        return "" if done else "locked"
    tries = User.failed_attempts + 1
    locks = tries >= max_attempts
    left = session.execute(
        update(User)
        .where(unlocked)
        .values(
            failed_attempts=case((locks, 0), else_=tries),
            locked_until=case(
                (locks, literal(until, User.locked_until.type)), else_=User.locked_until
            ),
        )
        .returning(User.failed_attempts)
        .execution_options(synchronize_session=False)
    ).first()
    if left is None:
        return "locked"
    return "wrong password; locked" if left[0] == 0 else "wrong password"


def ensure_demo_users(*, session: Session, host_agency: str) -> list[str]:
    """Create the missing demo users (all with :data:`DEMO_PASSWORD`); return who was created."""
    made = []
    for username, role, agency in DEMO_USERS:
        if get_user(session=session, username=username) is None:
            add_user(
                session=session,
                actor=Viewer.system(),
                username=username,
                role=role.value,
                agency=agency or host_agency,
                password=DEMO_PASSWORD,
                is_demo=True,
            )
            made.append(username)
    return made
