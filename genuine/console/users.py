"""Console users: one row each in the `console_users` Delta table, passwords as argon2id hashes.

argon2-cffi's PasswordHasher does the hashing, salting and constant-time verification; nothing here
touches a password beyond handing it to it. There is no default user and no default password:
`genuine console add-user` creates the first admin, reading the password from a prompt or stdin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pyspark.sql import functions as F

from genuine.core.lake import Lake
from genuine.core.schemas import CONSOLE_USERS
from genuine.jobs.io import merge

log = logging.getLogger(__name__)

MODERATOR, APPEALS_OFFICER, AUDITOR, ADMIN = "moderator", "appeals_officer", "auditor", "admin"
ROLES = (MODERATOR, APPEALS_OFFICER, AUDITOR, ADMIN)
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024   # argon2 takes any length; a bound keeps a login request cheap
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("genuine-console-no-such-user")


class UserError(ValueError):
    """A user cannot be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    active: bool


def check_new_user(username: str, role: str, password: str) -> None:
    if not _USERNAME.match(username or ""):
        raise UserError(f"username {username!r}: 2-64 characters, lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {list(ROLES)}")
    if not (MIN_PASSWORD_CHARS <= len(password or "") <= MAX_PASSWORD_CHARS):
        raise UserError(f"password: {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")


class Users:
    """The console_users table through the lake (merge on username: one current row per user).

    `table_rows`, when given, returns every row of console_users at its current version (the console's
    version-keyed cache, genuine.console.data.Reader.rows): a request then reads no data file unless a
    user changed. Without it, each call is a Spark read."""

    def __init__(self, lake: Lake, table_rows: Callable[[str], list[dict[str, Any]]] | None = None) -> None:
        self.lake = lake
        self.table_rows = table_rows

    def _rows(self, username: str | None = None) -> list[dict[str, Any]]:
        if self.table_rows is not None:
            rows = [r for r in self.table_rows("console_users") if username is None or r["username"] == username]
            return sorted(rows, key=lambda r: r["username"])
        if not self.lake.exists("console_users"):
            return []
        df = self.lake.read("console_users")
        if username is not None:
            df = df.where(F.col("username") == F.lit(username))
        return [r.asDict() for r in df.orderBy("username").collect()]

    def get(self, username: str) -> User | None:
        rows = self._rows(username)
        return User(rows[0]["username"], rows[0]["role"], bool(rows[0]["active"])) if rows else None

    def all(self) -> list[User]:
        return [User(r["username"], r["role"], bool(r["active"])) for r in self._rows()]

    def add(self, username: str, role: str, password: str, created_by: str) -> User:
        check_new_user(username, role, password)
        if self._rows(username):
            raise UserError(f"user {username!r} already exists")
        now = datetime.now(UTC)
        self._write(username, role, _hasher.hash(password), True, now, created_by)
        log.info("console user %s (%s) created by %s", username, role, created_by)
        return User(username, role, True)

    def set_active(self, username: str, active: bool, by: str) -> None:
        rows = self._rows(username)
        if not rows:
            raise UserError(f"no user {username!r}")
        r = rows[0]
        self._write(username, r["role"], r["password_hash"], active, r["created_at"], r["created_by"])
        log.info("console user %s %s by %s", username, "enabled" if active else "disabled", by)

    def _write(self, username: str, role: str, pw_hash: str, active: bool, created_at: datetime,
               created_by: str) -> None:
        row = (username, role, pw_hash, active, created_at, created_by, datetime.now(UTC))
        merge(self.lake, "console_users", self.lake.spark.createDataFrame([row], CONSOLE_USERS), txn=None)

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user whose password matches, else None (same work whether or not the name exists)."""
        rows = self._rows(username) if _USERNAME.match(username or "") else []
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, (password or "")[:MAX_PASSWORD_CHARS])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows or not rows[0]["active"]:
            return None
        return User(rows[0]["username"], rows[0]["role"], True)
