"""The `console` section of the configuration (conf/base.yml)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from genuine.core.config import Config, Strict
from genuine.core.privacy import secret_key

# slowapi / limits notation: "<count>/<unit>" or "<count> per <n> <unit>s"
_RATE = re.compile(r"^\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?$")


class ConsoleConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8450, ge=1, le=65535)
    secret_key_env: str = "GENUINE_CONSOLE_SECRET"
    secret_key_file: str = ".genuine/console.key"
    create_key_if_missing: bool = False
    session_max_age_seconds: int = Field(28800, ge=60)
    https_only: bool = False
    login_rate_limit: str = "5/minute"
    max_note_chars: int = Field(2000, ge=1)
    decision_files: str = "console/decisions"
    queue_page_size: int = Field(100, ge=1)
    sample_events: int = Field(5, ge=0)

    @field_validator("login_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not _RATE.match(value.strip()):
            raise ValueError(f"{value!r}: expected a rate such as '5/minute' or '10 per 5 minutes'")
        return value.strip()


def console_config(cfg: Config) -> ConsoleConfig:
    return cfg.section("console", ConsoleConfig)


def session_secret(cfg: Config) -> bytes:
    """The key that signs session cookies and CSRF tokens: $secret_key_env, else the local key file."""
    c = console_config(cfg)
    return secret_key(c.secret_key_env, c.secret_key_file, c.create_key_if_missing, "console secret key",
                      f"this environment ({cfg.env}) refuses to invent one: sessions must survive a restart "
                      "and every instance of the console must sign with the same key")
