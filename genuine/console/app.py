"""The console's web app (FastAPI + Jinja templates, server-rendered, no script).

Security is the libraries': sessions are Starlette's SessionMiddleware (itsdangerous-signed, HttpOnly,
SameSite=strict cookies), passwords argon2-cffi (genuine.console.users), CSRF tokens itsdangerous-signed
values bound to the session and checked on every POST, the login rate limit slowapi's (in-process memory,
per client address). Every route names its roles in ROUTES and checks them on the server.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from pyspark.sql import SparkSession
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from genuine.console import access
from genuine.console.chart import activity_svg
from genuine.console.config import ConsoleConfig, console_config, session_secret
from genuine.console.data import Reader
from genuine.console.decide import DecisionRefused, account_state, submit
from genuine.console.users import ADMIN, APPEALS_OFFICER, AUDITOR, MODERATOR, ROLES, User, UserError, Users
from genuine.core.config import Config
from genuine.core.errors import StatementExportError
from genuine.core.lake import Lake
from genuine.core.session import get_spark
from genuine.enforcement.audit import render_trail
from genuine.enforcement.config import enforcement_config
from genuine.jobs import audit as audit_job
from genuine.jobs import export as export_job
from genuine.models.config import ModelConfig

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "genuine_console"
CSRF_FIELD = "csrf_token"
MAX_ACCOUNT_ID_CHARS = 128

# (method, path) -> the roles allowed; every route is listed, and tests/console checks each role on each.
ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/overview"): (MODERATOR, AUDITOR, ADMIN),
    ("GET", "/queue"): (MODERATOR,),
    ("GET", "/accounts/{account_id}"): (MODERATOR, APPEALS_OFFICER, AUDITOR),
    ("POST", "/accounts/{account_id}/decision"): (MODERATOR,),
    ("GET", "/appeals"): (APPEALS_OFFICER,),
    ("POST", "/appeals/{account_id}/outcome"): (APPEALS_OFFICER,),
    ("GET", "/audit"): (AUDITOR,),
    ("GET", "/audit/{account_id}"): (AUDITOR,),
    ("GET", "/export"): (AUDITOR,),
    ("POST", "/export/statements"): (AUDITOR,),
    ("GET", "/users"): (ADMIN,),
    ("POST", "/users"): (ADMIN,),
    ("POST", "/users/{username}/active"): (ADMIN,),
}
HOME = {MODERATOR: "/queue", APPEALS_OFFICER: "/appeals", AUDITOR: "/audit", ADMIN: "/users"}
NAV = [("/overview", "Overview"), ("/queue", "Queue"), ("/appeals", "Appeals"), ("/audit", "Audit"),
       ("/export", "Export"), ("/users", "Users")]


class NotLoggedIn(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


class Forbidden(Exception):
    pass


class PageError(Exception):
    """An error the user caused (unknown account, bad form): shown as a page with this status and text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ConsoleState:
    cfg: Config
    ccfg: ConsoleConfig
    secret: bytes
    _spark: SparkSession | None = None
    _reader: Reader | None = field(default=None, repr=False)

    @property
    def spark(self) -> SparkSession:
        """One Spark session for the process, started on first use (a page or a decision needs it)."""
        if self._spark is None:
            log.info("starting the console's Spark session")
            self._spark = get_spark(self.cfg)
        return self._spark

    @property
    def lake(self) -> Lake:
        return self.reader.lake

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = Reader(Lake(self.spark, self.cfg), self.cfg.section("model", ModelConfig))
        return self._reader

    @property
    def users(self) -> Users:
        return Users(self.lake, self.reader.rows)


def create_app(cfg: Config, spark: SparkSession | None = None) -> FastAPI:
    ccfg = console_config(cfg)
    state = ConsoleState(cfg, ccfg, session_secret(cfg), spark)
    csrf = URLSafeTimedSerializer(state.secret, salt="genuine-console-csrf")
    limiter = Limiter(key_func=get_remote_address)

    app = FastAPI(title="genuine console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.limiter = limiter
    app.state.console = state
    app.add_middleware(SessionMiddleware, secret_key=state.secret.hex(), session_cookie=SESSION_COOKIE,
                       max_age=ccfg.session_max_age_seconds, same_site="strict", https_only=ccfg.https_only)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["t"] = _fmt_time
    templates.env.filters["num"] = _fmt_num

    # --- session, CSRF, roles ---------------------------------------------------------------------
    def csrf_token(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return csrf.dumps(request.session["csrf"])

    def check_csrf(request: Request, token: str | None) -> None:
        try:
            value = csrf.loads(token or "", max_age=ccfg.session_max_age_seconds)
        except BadSignature:
            value = None
        expected = request.session.get("csrf")
        if not (isinstance(value, str) and expected and hmac.compare_digest(value, expected)):
            raise PageError(403, "the form's security token is missing or expired: reload the page and try again")

    def current_user(request: Request) -> User | None:
        name = request.session.get("user")
        if not name:
            return None
        user = state.users.get(name)
        if user is None or not user.active:
            request.session.clear()
            return None
        return user

    def need(request: Request, method: str, route: str) -> User:
        user = current_user(request)
        if user is None:
            raise NotLoggedIn(request.url.path)
        if user.role not in ROUTES[(method, route)]:
            raise Forbidden()
        return user

    def render(request: Request, name: str, user: User | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        nav = [(href, label) for href, label in NAV if user and user.role in ROUTES[("GET", href)]]
        return templates.TemplateResponse(request, name, {"user": user, "nav": nav, "csrf": csrf_token(request),
                                                          **ctx}, status_code=status)

    def account_id_ok(account_id: str) -> str:
        if not account_id or len(account_id) > MAX_ACCOUNT_ID_CHARS or not account_id.isprintable():
            raise PageError(400, f"not an account id (1-{MAX_ACCOUNT_ID_CHARS} printable characters)")
        return account_id

    # --- errors: a page with a message, never a stack trace ----------------------------------------
    @app.exception_handler(NotLoggedIn)
    def _login_first(request: Request, exc: NotLoggedIn) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        user = current_user(request)
        return render(request, "error.html", user, 403, title="Not allowed",
                      message=f"your role ({user.role if user else 'none'}) may not open this page")

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:
        return render(request, "error.html", current_user(request), exc.status, title="Cannot do that",
                      message=exc.message)

    @app.exception_handler(RequestValidationError)
    def _bad_form(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()})
        return render(request, "error.html", current_user(request), 400, title="Malformed request",
                      message=f"missing or invalid field(s): {', '.join(fields)}")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return render(request, "error.html", current_user(request), exc.status_code, title="Not found"
                      if exc.status_code == 404 else "Error", message=str(exc.detail))

    @app.exception_handler(RateLimitExceeded)
    def _too_many(request: Request, exc: RateLimitExceeded) -> Response:
        resp = render(request, "login.html", None, 429, next="/",
                      error=f"too many login attempts ({exc.detail}): wait and try again")
        return resp

    @app.exception_handler(Exception)
    def _crash(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.exception("console error %s on %s %s", ref, request.method, request.url.path)
        return HTMLResponse(f"<!doctype html><title>Error</title><h1>Something went wrong</h1><p>The error was "
                            f"logged with reference {ref}.</p>", status_code=500)

    # --- login ------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", current_user(request), next=_safe_next(next), error=None)

    @app.post("/login", response_class=HTMLResponse)
    @limiter.limit(ccfg.login_rate_limit)
    def login(request: Request, username: Annotated[str, Form(max_length=64)],
              password: Annotated[str, Form(max_length=1024)], csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
        check_csrf(request, csrf_token)
        user = state.users.authenticate(username.strip().lower(), password)
        if user is None:
            log.warning("failed console login for %r from %s", username, get_remote_address(request))
            return render(request, "login.html", None, 401, next=_safe_next(next),
                          error="unknown user or wrong password")
        request.session.clear()               # a fresh session (and CSRF secret) at every login
        request.session["user"] = user.username
        request.session["csrf"] = secrets.token_urlsafe(32)
        target = _safe_next(next)
        return RedirectResponse(HOME[user.role] if target == "/" else target, status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        check_csrf(request, csrf_token)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/")
    def home(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(HOME[user.role], status_code=303)

    # --- overview, queue, account ---------------------------------------------------------------
    @app.get("/overview", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        user = need(request, "GET", "/overview")
        return render(request, "overview.html", user, o=state.reader.overview(datetime.now(UTC)))

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, band: str = "", family: str = "", cluster: str = "") -> Response:
        user = need(request, "GET", "/queue")
        q = state.reader.queue(band or None, family or None, cluster or None, limit=ccfg.queue_page_size)
        return render(request, "queue.html", user, q=q, band=band, family=family, cluster=cluster)

    def account_page(request: Request, user: User, account_id: str, message: str | None = None,
                     error: str | None = None, status: int = 200, note: str = "") -> Response:
        v = state.reader.account(account_id, enforcement_config(cfg).queue.max_sample_posts)
        if v is None:
            raise PageError(404, f"no account {account_id!r} is known to genuine")
        access.record(state.lake, user.username, user.role, access.VIEW_ACCOUNT, account_id)
        by_hour, by_day = activity_svg(v.activity)
        can_decide = user.role == MODERATOR and v.queue_item is not None
        return render(request, "account.html", user, status, v=v, chart_hour=Markup(by_hour),
                      chart_day=Markup(by_day), can_decide=can_decide, state=account_state(state.reader, account_id),
                      decisions=enforcement_config(cfg).imports.review_decisions, message=message, error=error,
                      note=note, max_note=ccfg.max_note_chars,
                      humans=(v.activity or {}).get("humans"))

    @app.get("/accounts/{account_id}", response_class=HTMLResponse)
    def account(request: Request, account_id: str) -> Response:
        user = need(request, "GET", "/accounts/{account_id}")
        return account_page(request, user, account_id_ok(account_id))

    @app.post("/accounts/{account_id}/decision", response_class=HTMLResponse)
    def decide(request: Request, account_id: str, decision: Annotated[str, Form(max_length=32)],
               state_token: Annotated[str, Form(max_length=128, alias="state")],
               note: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
        return _decide(request, "/accounts/{account_id}/decision", csrf_token, "review", account_id, decision,
                       note, state_token, lambda user, msg, err, status, note: account_page(
                           request, user, account_id, msg, err, status, note))

    def _decide(request: Request, route: str, csrf_token: str, kind: str, account_id: str, decision: str,
                note: str, token: str, show: Callable[..., Response]) -> Response:
        """Role, CSRF, then the decision through genuine.console.decide; the result shown by `show`."""
        user = need(request, "POST", route)
        check_csrf(request, csrf_token)
        account_id = account_id_ok(account_id)

        def page(msg: str | None, err: str | None, status: int, note: str) -> Response:
            return show(user, msg, err, status, note)

        try:
            done = submit(cfg, ccfg, state.spark, state.reader, kind, account_id, decision, user.username,  # type: ignore[arg-type]
                          note, token)
        except DecisionRefused as exc:
            try:
                return page(None, str(exc), exc.status, note)
            except PageError:       # no page to show it on (an account no table knows)
                return render(request, "error.html", user, exc.status, title="Not recorded", message=str(exc))
        r = done.run
        access.record(state.lake, user.username, user.role,
                      access.DECISION if kind == "review" else access.APPEAL_OUTCOME, account_id,
                      f"{decision} run={r.run_id} applied={r.applied} file={done.path.name}")
        if r.applied:
            return page(f"{decision} recorded and applied (import run {r.run_id})", None, 200, "")
        why = ", ".join(f"{k}" for k in {**r.not_applied, **r.rejected}) or "no change"
        return page(None, f"{decision} recorded but not applied: {why} (import run {r.run_id})", 409, note)

    # --- appeals --------------------------------------------------------------------------------------
    def appeals_page(request: Request, user: User, message: str | None = None, error: str | None = None,
                     status: int = 200) -> Response:
        appeals = state.reader.open_appeals()
        access.record_many(state.lake, user.username, user.role, access.VIEW_APPEAL,
                           [a["account_id"] for a in appeals])
        for a in appeals:
            a["state"] = account_state(state.reader, a["account_id"])
        return render(request, "appeals.html", user, status, appeals=appeals, message=message, error=error,
                      outcomes=enforcement_config(cfg).imports.appeal_outcomes, max_note=ccfg.max_note_chars)

    @app.get("/appeals", response_class=HTMLResponse)
    def appeals(request: Request) -> Response:
        return appeals_page(request, need(request, "GET", "/appeals"))

    @app.post("/appeals/{account_id}/outcome", response_class=HTMLResponse)
    def appeal_outcome(request: Request, account_id: str, outcome: Annotated[str, Form(max_length=32)],
                       state_token: Annotated[str, Form(max_length=128, alias="state")],
                       note: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
        return _decide(request, "/appeals/{account_id}/outcome", csrf_token, "appeal", account_id, outcome, note,
                       state_token, lambda user, msg, err, status, note: appeals_page(request, user, msg, err, status))

    # --- audit and export -------------------------------------------------------------------------
    @app.get("/audit", response_class=HTMLResponse)
    def audit_form(request: Request, account_id: str = "") -> Response:
        user = need(request, "GET", "/audit")
        if account_id.strip():
            return RedirectResponse(f"/audit/{quote(account_id_ok(account_id.strip()), safe='')}", status_code=303)
        return render(request, "audit_form.html", user)

    @app.get("/audit/{account_id}", response_class=HTMLResponse)
    def audit(request: Request, account_id: str) -> Response:
        user = need(request, "GET", "/audit/{account_id}")
        account_id = account_id_ok(account_id)
        trail = audit_job.explain(cfg, account_id, spark=state.spark)
        if not trail.found:
            raise PageError(404, f"no account {account_id!r} is known to genuine: no status, action, queue "
                                 "entry, decision or score")
        access.record(state.lake, user.username, user.role, access.VIEW_AUDIT, account_id)
        return render(request, "audit.html", user, t=trail, text=render_trail(trail))

    @app.get("/export", response_class=HTMLResponse)
    def export_form(request: Request) -> Response:
        user = need(request, "GET", "/export")
        today = datetime.now(UTC).date()
        return render(request, "export.html", user, since=today - timedelta(days=30), until=today, error=None)

    @app.post("/export/statements")
    def export(request: Request, since: Annotated[date, Form()], until: Annotated[date, Form()],
               csrf_token: Annotated[str, Form()] = "") -> Response:
        user = need(request, "POST", "/export/statements")
        check_csrf(request, csrf_token)
        if until < since:
            raise PageError(400, f"the range ends ({until}) before it starts ({since})")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "statements.jsonl"
            try:
                result = export_job.run(cfg, since, out, until=until, spark=state.spark)
            except StatementExportError as exc:
                raise PageError(422, f"no file: {exc}") from None
            body = out.read_bytes() if out.exists() else b""
        access.record(state.lake, user.username, user.role, access.EXPORT, None,
                      f"{since}..{until}: {result.written} statements")
        return Response(body, media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="statements-{since}-{until}.jsonl"'})

    # --- users ----------------------------------------------------------------------------------------
    @app.get("/users", response_class=HTMLResponse)
    def users(request: Request) -> Response:
        user = need(request, "GET", "/users")
        return render(request, "users.html", user, users=state.users.all(), roles=ROLES, message=None, error=None)

    @app.post("/users", response_class=HTMLResponse)
    def add_user(request: Request, username: Annotated[str, Form(max_length=64)], role: Annotated[str, Form(max_length=32)],
                 password: Annotated[str, Form(max_length=1024)], csrf_token: Annotated[str, Form()] = "") -> Response:
        user = need(request, "POST", "/users")
        check_csrf(request, csrf_token)
        try:
            state.users.add(username.strip().lower(), role, password, user.username)
        except UserError as exc:
            return render(request, "users.html", user, 400, users=state.users.all(), roles=ROLES, message=None,
                          error=str(exc))
        return render(request, "users.html", user, users=state.users.all(), roles=ROLES,
                      message=f"user {username.strip().lower()} ({role}) created", error=None)

    @app.post("/users/{username}/active", response_class=HTMLResponse)
    def set_active(request: Request, username: str, active: Annotated[bool, Form()],
                   csrf_token: Annotated[str, Form()] = "") -> Response:
        user = need(request, "POST", "/users/{username}/active")
        check_csrf(request, csrf_token)
        if username == user.username and not active:
            raise PageError(400, "you cannot disable your own account")
        try:
            state.users.set_active(username, active, user.username)
        except UserError as exc:
            raise PageError(404, str(exc)) from None
        return RedirectResponse("/users", status_code=303)

    return app


def _safe_next(target: str) -> str:
    """Only a path of this site (no scheme, no host): never an open redirect."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _fmt_time(v: Any) -> str:
    if isinstance(v, datetime):
        return (v if v.tzinfo is None else v.astimezone(UTC)).strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    if isinstance(v, date):
        return v.isoformat()
    return "-" if v is None else str(v)


def _fmt_num(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)
