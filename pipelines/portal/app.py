"""The portal's web application (Starlette + Jinja2, served by uvicorn): pages, uploads and downloads.

Every object is looked up together with the enterprise of the session; what belongs to another enterprise
answers exactly like what does not exist (404). Forms carry the session's CSRF token; pages are plain HTML
without script, for old office browsers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import shutil
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pipelines.lib.domain import names
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period, PeriodError
from pipelines.lib.domain.reference import seed_rows
from pipelines.lib.intake.limits import LIMITS, too_big_reason
from pipelines.lib.intake.pseudonym import load_key
from pipelines.portal import accounts, audit, db, passwords, sessions, staging, status, throttle
from pipelines.portal.forward import forward
from pipelines.portal.settings import Settings
from pipelines.portal.validation import ReaderPool, refused, validate

HERE = Path(__file__).resolve().parent
# The server's own log (uvicorn prints it): what the portal says about itself at start.
log = logging.getLogger("uvicorn.error")
UPLOAD_SUFFIXES = (".xlsx", ".zip")  # contract §1: the workbook, or the CSV zip
# The multipart envelope around the file: boundaries, headers, the small fields.
FORM_OVERHEAD = 64 * 1024
TEMPLATE_NAME = "高技能人才工作季度报表模板.xlsx"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["org_display"] = lambda code: format_org_code(code) if code else ""
    return Jinja2Templates(env=env)


def _labels() -> dict[str, dict[str, dict[str, str]]]:
    """Severity and status labels, order and tone, from the seeds that own them."""
    out: dict[str, dict[str, dict[str, str]]] = {"severity": {r["severity"]: r for r in seed_rows("ref_severities")}}
    for r in seed_rows("ref_statuses"):
        out.setdefault(r["domain"], {})[r["status_code"]] = r
    return out


def tones_css() -> str:
    return "".join(f".tone-{r['tone']}{{background:{r['fill_colour']};color:{r['text_colour']}}}\n"
                   for r in seed_rows("ref_tones"))


@dataclass
class Portal:
    """What the handlers share, kept in ``app.state.portal`` for the server's life."""

    settings: Settings
    key: bytes
    templates: Jinja2Templates
    labels: dict[str, dict[str, dict[str, str]]]
    form_key: bytes  # signs the login form's CSRF token (sessions.login_form_pair)
    validations: threading.BoundedSemaphore  # uploads checked at once; the rest wait
    template_lock: threading.Lock = field(default_factory=threading.Lock)
    pool: ReaderPool | None = None  # started by the first upload

    def reader_pool(self) -> ReaderPool:
        if self.pool is None:
            with self.template_lock:
                if self.pool is None:
                    self.pool = ReaderPool(self.settings.readers)
        return self.pool


def create_app(settings: Settings) -> Starlette:
    db.init(settings.db_path)
    settings.storage.mkdir(parents=True, exist_ok=True)
    sessions.purge_expired(settings.db_path, settings.session_idle_seconds, settings.session_max_seconds)
    # A request naming another host is refused before any route; no response ever builds a URL from the Host
    # header (redirects are relative, and the router does not redirect a trailing slash to an absolute URL).
    app = Starlette(routes=_routes(), exception_handlers={HTTPException: on_error}, lifespan=lifespan,
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts)),
                                Middleware(BaseHTTPMiddleware, dispatch=headers)])
    app.router.redirect_slashes = False
    app.state.portal = Portal(settings, load_key(), _templates(), _labels(), db.portal_key(settings.db_path),
                              threading.BoundedSemaphore(settings.validations))
    return app


def _routes() -> list[Route | Mount]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/password", password_page, methods=["GET"]),
        Route("/password", change_password, methods=["POST"]),
        Route("/", home, methods=["GET"]),
        Route("/history/{org}", history_page, methods=["GET"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/submissions/{upload_id}", submission, methods=["GET"]),
        Route("/submissions/{upload_id}/file", submission_file, methods=["GET"]),
        Route("/receipts/{period}/{org}", receipt, methods=["GET"]),
        Route("/template", template, methods=["GET"]),
        Route("/static/tones.css", tones, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    settings = app.state.portal.settings
    # What a crash left (a file being copied or checked): personal data nobody will ask for.
    removed = await run_in_threadpool(staging.sweep, settings.storage, settings.db_path)
    log.info("报送平台：启动时清除中断上传的文件 %d 个 (files of interrupted uploads removed at start)", removed)
    yield
    portal: Portal = app.state.portal
    pool, portal.pool = portal.pool, None
    if pool is not None:
        await run_in_threadpool(pool.close)


# -- helpers ----------------------------------------------------------------------------------------
def _portal(request: Request) -> Portal:
    return request.app.state.portal


def page(request: Request, name: str, session: sessions.Session | None, user: accounts.User | None,
         status_code: int = 200, **context: object) -> Response:
    portal = _portal(request)
    context.update(user=user, csrf=session.csrf if session else "", labels=portal.labels,
                   min_length=passwords.MIN_LENGTH)
    return portal.templates.TemplateResponse(request, name, context, status_code=status_code)


def set_cookie(request: Request, response: Response, session: sessions.Session) -> Response:
    response.set_cookie(sessions.COOKIE, session.raw_id, httponly=True, secure=_portal(request).settings.secure_cookies,
                        samesite="strict", path="/")
    return response


def current(request: Request) -> tuple[sessions.Session | None, accounts.User | None]:
    settings = _portal(request).settings
    session = sessions.load(settings.db_path, request.cookies.get(sessions.COOKIE),
                            settings.session_idle_seconds, settings.session_max_seconds)
    user = accounts.user_by_id(settings.db_path, session.user_id) if session and session.user_id else None
    return session, user


def signed_in(request: Request) -> tuple[sessions.Session, accounts.User]:
    """The session and its user, or a redirect: to the login page, or to the password page while the
    one-time password is unchanged."""
    session, user = current(request)
    if session is None or user is None:
        raise HTTPException(303, headers={"Location": "/login"})
    if user.must_change and request.url.path not in ("/password", "/logout"):
        raise HTTPException(303, headers={"Location": "/password"})
    return session, user


async def form_with_csrf(request: Request, session: sessions.Session | None, **limits: int):
    form = await request.form(max_files=limits.get("max_files", 0), max_fields=limits.get("max_fields", 8))
    if not sessions.csrf_ok(session, form.get("csrf")):
        await form.close()
        raise HTTPException(403, "页面已过期或表单来源不明，请刷新页面后重试")
    return form


def not_found(request: Request, user: accounts.User | None, obj: str) -> HTTPException:
    audit.record(_portal(request).settings.db_path, "denied", "not_found", user.id if user else None,
                 user.org_code if user else None, obj)
    return HTTPException(404)


def may_see(user: accounts.User, org_code: str) -> bool:
    return user.is_staff or user.org_code == org_code


def upload_row(request: Request, upload_id: str, user: accounts.User) -> dict:
    if len(upload_id) > 64:
        raise not_found(request, user, "upload")
    with db.connect(_portal(request).settings.db_path) as con:
        row = con.execute("select * from uploads where id = ?", (upload_id,)).fetchone()
    if row is None or not may_see(user, row["org_code"]):
        raise not_found(request, user, f"upload:{upload_id}")
    return dict(row)


def history(request: Request, org_code: str | None) -> list[dict]:
    settings = _portal(request).settings
    with db.connect(settings.db_path) as con:
        if org_code:
            rows = con.execute("select * from uploads where org_code = ? order by uploaded_at desc, rowid desc"
                               " limit 500", (org_code,)).fetchall()
        else:
            rows = con.execute("select * from uploads order by uploaded_at desc, rowid desc limit 500").fetchall()
    rows = [dict(r) for r in rows]
    run = status.run_statuses(settings.warehouse, org_code, sorted({r["period"] for r in rows}))
    for r in rows:
        r["run"] = run.get((r["period"], r["inbox_name"])) if r["inbox_name"] else None
        r["stage"] = ("rejected" if r["outcome"] == "rejected" else "processed" if r["run"] else "received")
    return rows


def enterprise_page(request: Request, session: sessions.Session, user: accounts.User, org: str,
                    error: str | None = None, status_code: int = 200) -> Response:
    settings = _portal(request).settings
    now = settings.clock()
    quarters = status.open_quarters(now, settings.late_quarters)
    return page(request, "home.html", session, user, status_code, org=org, uploads=history(request, org),
                error=error, quarters=[(q, q.is_late(now)) for q in quarters],
                receipts=status.receipts_for(settings.receipts_dir, org),
                max_mb=LIMITS.max_file_bytes // (1024 * 1024))


def checked(portal: Portal, stored: Path, contract_name: str, period: Period, now):
    with portal.validations:
        return validate(stored, contract_name, period, portal.settings.inbox, portal.key, portal.reader_pool(), now)


# -- pages ------------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    """No stored session for a visitor: the form's CSRF token is bound to a cookie of its own."""
    portal = _portal(request)
    _, user = current(request)
    if user is not None:
        return RedirectResponse("/", 303)
    return login_form(request, portal, None, 200)


def login_form(request: Request, portal: Portal, error: str | None, status_code: int) -> Response:
    cookie, token = sessions.login_form_pair(portal.form_key)
    response = portal.templates.TemplateResponse(
        request, "login.html", {"user": None, "csrf": token, "labels": portal.labels, "error": error},
        status_code=status_code)
    response.set_cookie(sessions.LOGIN_COOKIE, cookie, httponly=True, secure=portal.settings.secure_cookies,
                        samesite="strict", path="/login")
    return response


async def login(request: Request) -> Response:
    portal = _portal(request)
    db_path = portal.settings.db_path
    form = await request.form(max_files=0, max_fields=8)
    if not sessions.login_form_ok(portal.form_key, request.cookies.get(sessions.LOGIN_COOKIE), form.get("csrf")):
        raise HTTPException(403, "页面已过期或表单来源不明，请刷新页面后重试")
    login_name, password = str(form.get("login") or "").strip(), str(form.get("password") or "")
    login_key, address = accounts.login_key(login_name)[:200], request.client.host if request.client else "?"
    wait = await run_in_threadpool(throttle.must_wait, db_path, login_key, address)
    if wait is not None:
        audit.record(db_path, "login", f"throttled_{wait.scope}")
        return login_form(request, portal, f"登录失败次数过多，请在{wait.seconds:.0f}秒后再试", 429)
    user, outcome, uid = await run_in_threadpool(accounts.authenticate, db_path, login_name, password)
    audit.record(db_path, "login", outcome, uid, user.org_code if user else None)
    if user is None:
        if await run_in_threadpool(throttle.failed, db_path, login_key, address):
            audit.record(db_path, "login", "throttle_started", uid)
        return login_form(request, portal, "登录名或密码不正确", 400)
    await run_in_threadpool(throttle.succeeded, db_path, login_key, address)
    sessions.purge_expired(db_path, portal.settings.session_idle_seconds, portal.settings.session_max_seconds)
    response = set_cookie(request, RedirectResponse("/password" if user.must_change else "/", 303),
                          sessions.create(db_path, user.id))
    response.delete_cookie(sessions.LOGIN_COOKIE, path="/login", secure=portal.settings.secure_cookies,
                           httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    settings = _portal(request).settings
    session, user = current(request)
    await form_with_csrf(request, session)
    sessions.delete(settings.db_path, session)
    audit.record(settings.db_path, "logout", "ok", user.id if user else None, user.org_code if user else None)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(sessions.COOKIE, path="/", secure=settings.secure_cookies, httponly=True,
                           samesite="strict")
    return response


async def password_page(request: Request) -> Response:
    session, user = signed_in(request)
    return page(request, "password.html", session, user, error=None)


async def change_password(request: Request) -> Response:
    db_path = _portal(request).settings.db_path
    session, user = signed_in(request)
    form = await form_with_csrf(request, session)
    current_pw, new, repeat = (str(form.get(k) or "") for k in ("current", "new", "repeat"))
    problem = await run_in_threadpool(accounts.password_problem, user.id, db_path, current_pw, new, repeat)
    if problem:
        audit.record(db_path, "password", "refused", user.id, user.org_code)
        return page(request, "password.html", session, user, 400, error=problem)
    # Every session of the account ends, this one too; this browser goes on with a new one.
    await run_in_threadpool(accounts.set_password, db_path, user.id, new)
    audit.record(db_path, "password", "changed", user.id, user.org_code)
    return set_cookie(request, RedirectResponse("/", 303), sessions.create(db_path, user.id))


async def home(request: Request) -> Response:
    session, user = signed_in(request)
    if user.is_staff:
        return page(request, "staff.html", session, user, uploads=history(request, None))
    return enterprise_page(request, session, user, user.org_code)


async def history_page(request: Request) -> Response:
    session, user = signed_in(request)
    org = request.path_params["org"]
    if not may_see(user, org):
        raise not_found(request, user, f"history:{org[:20]}")
    return enterprise_page(request, session, user, org)


async def upload(request: Request) -> Response:
    session, user = signed_in(request)
    if user.is_staff or not user.org_code:
        raise not_found(request, user, "upload:new")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "请通过页面上的表单上传文件")
    if int(length) > LIMITS.max_file_bytes + FORM_OVERHEAD:
        audit.record(_portal(request).settings.db_path, "upload", "too_large", user.id, user.org_code)
        raise HTTPException(413, too_big_reason(int(length)))
    form = await form_with_csrf(request, session, max_files=1, max_fields=4)
    try:
        return await receive(request, session, user, form)
    finally:
        await form.close()


async def receive(request: Request, session: sessions.Session, user: accounts.User, form) -> Response:
    portal = _portal(request)
    settings = portal.settings
    now = settings.clock()
    quarters = {str(q.period): q for q in status.open_quarters(now, settings.late_quarters)}
    period_text, file = str(form.get("period") or ""), form.get("file")
    error = None
    if period_text not in quarters:
        error = "请选择开放报送的报告期"
    elif not isinstance(file, UploadFile) or not file.filename:
        error = "请选择要上传的报表文件"
    elif Path(file.filename.replace("\\", "/")).suffix.lower() not in UPLOAD_SUFFIXES:
        error = "只接受Excel工作簿（.xlsx）或按模板导出的CSV压缩包（.zip），请用模板填报后上传"
    if error:
        audit.record(settings.db_path, "upload", "refused", user.id, user.org_code)
        return enterprise_page(request, session, user, user.org_code, error=error, status_code=400)
    ext = Path(file.filename.replace("\\", "/")).suffix.lower()
    client_name = names.shown(Path(file.filename.replace("\\", "/")).name)[-120:]
    upload_id = secrets.token_urlsafe(16)
    stored = staging.new_staged(settings.storage, ext)  # swept at the next start if the server dies now
    size, digest = await run_in_threadpool(_store, file, stored)
    period = quarters[period_text].period
    contract_name = f"{format_org_code(user.org_code)}_{period}{ext}"
    if size > LIMITS.max_file_bytes:
        stored.unlink(missing_ok=True)
        verdict = None
    else:
        verdict = await run_in_threadpool(checked, portal, stored, contract_name, period, now)
    if verdict is None:
        verdict = refused(too_big_reason(size), time.monotonic())
    inbox_name = None
    if verdict.outcome == "accepted":
        inbox_name = await run_in_threadpool(forward, settings.inbox, period, user.org_code, stored, ext, now)
        stored = staging.keep(stored)  # before its row: a crash in between leaves a file the next start removes
    else:
        stored.unlink(missing_ok=True)  # a refused file is not kept: the clerk still has it
    with db.connect(settings.db_path) as con:
        con.execute(
            "insert into uploads (id, user_id, org_code, period, client_name, client_name_original, stored_name,"
            " file_format, size_bytes, sha256, uploaded_at, outcome, inbox_name, fatal_count, error_count,"
            " warning_count, seconds, findings_json) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (upload_id, user.id, user.org_code, str(period), client_name, file.filename[:1000],
             stored.name if inbox_name else None, ext.lstrip("."), size, digest,
             now.strftime("%Y-%m-%d %H:%M:%S"), verdict.outcome, inbox_name, verdict.fatal_count,
             verdict.error_count, verdict.warning_count, round(verdict.seconds, 3),
             json.dumps(verdict.findings, ensure_ascii=False, default=str)))
    audit.record(settings.db_path, "upload", verdict.outcome, user.id, user.org_code, f"upload:{upload_id}")
    return RedirectResponse(f"/submissions/{upload_id}", 303)


async def submission(request: Request) -> Response:
    session, user = signed_in(request)
    row = upload_row(request, request.path_params["upload_id"], user)
    rows = [r for r in history(request, row["org_code"]) if r["id"] == row["id"]]
    row = rows[0] if rows else row
    findings = json.loads(row["findings_json"])
    return page(request, "submission.html", session, user, upload=row, findings=findings)


async def submission_file(request: Request) -> Response:
    settings = _portal(request).settings
    _, user = signed_in(request)
    row = upload_row(request, request.path_params["upload_id"], user)
    path = settings.storage / (row["stored_name"] or "")
    if not row["stored_name"] or not path.is_file():
        raise not_found(request, user, f"file:{row['id']}")
    audit.record(settings.db_path, "download", "file", user.id, row["org_code"], f"upload:{row['id']}")
    return _download(path, row["inbox_name"])


async def receipt(request: Request) -> Response:
    settings = _portal(request).settings
    _, user = signed_in(request)
    period_text, org = request.path_params["period"], request.path_params["org"]
    try:
        period = str(Period.parse(period_text))
    except PeriodError:
        raise not_found(request, user, "receipt") from None
    path = status.receipt_path(settings.receipts_dir, period, org) if may_see(user, org) else None
    if path is None:
        raise not_found(request, user, f"receipt:{period}/{org[:20]}")
    audit.record(settings.db_path, "download", "receipt", user.id, org, f"receipt:{period}/{org}")
    return _download(path, f"回执_{format_org_code(org)}_{period}.xlsx")


async def template(request: Request) -> Response:
    portal = _portal(request)
    _, user = signed_in(request)
    path = portal.settings.storage / "template" / "template.xlsx"
    if not path.is_file():
        await run_in_threadpool(_write_template, path, portal.template_lock)
    audit.record(portal.settings.db_path, "download", "template", user.id, user.org_code)
    return _download(path, TEMPLATE_NAME)


async def tones(_request: Request) -> Response:
    return Response(tones_css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def on_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code in (301, 302, 303, 307):
        return RedirectResponse(exc.headers["Location"], exc.status_code)
    messages = {404: "页面不存在，或您无权查看该内容", 405: "请求方式不正确",
                403: exc.detail, 411: exc.detail, 413: exc.detail}
    portal = _portal(request)
    return portal.templates.TemplateResponse(
        request, "error.html", {"user": None, "csrf": "", "labels": portal.labels, "status": exc.status_code,
                                "message": messages.get(exc.status_code, "请求无法处理")},
        status_code=exc.status_code)


async def headers(request: Request, call_next):
    response = await call_next(request)
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)
    if request.url.scheme == "https":  # behind the commission's proxy (X-Forwarded-Proto from --proxy)
        response.headers.setdefault("Strict-Transport-Security",
                                    f"max-age={_portal(request).settings.hsts_seconds}; includeSubDomains")
    return response


def _store(file: UploadFile, target: Path) -> tuple[int, str]:
    """Copy the upload under the server's name, counting and hashing; stops reading past the size limit."""
    h, size = hashlib.sha256(), 0
    file.file.seek(0)
    with open(target, "xb") as out:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > LIMITS.max_file_bytes:
                break
            h.update(chunk)
            out.write(chunk)
    return size, h.hexdigest()


def _write_template(path: Path, lock: threading.Lock) -> None:
    from pipelines.lib.forms.template import write_template

    with lock:
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}.xlsx")
        write_template(tmp)
        shutil.move(tmp, path)


MEDIA_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".zip": "application/zip"}


def _download(path: Path, filename: str) -> FileResponse:
    """An attachment, named in ASCII for old browsers and in UTF-8 (RFC 5987) for the rest."""
    suffix = path.suffix.lower()
    quoted = urllib.parse.quote(filename)
    return FileResponse(path, media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"), headers={
        "Content-Disposition": f"attachment; filename=\"download{suffix}\"; filename*=UTF-8''{quoted}"})
