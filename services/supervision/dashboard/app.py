"""The supervisors' dashboard: a small WSGI application (werkzeug) in a process of its own
(`python -m services.supervision.dashboard`), a client of the gateway like any other.

A supervisor signs in on its page with what they sign in with over gRPC (civil servant id, password,
the authenticator's 6-digit code): the dashboard calls identity's SignInCivilServant through the
gateway and keeps the access token in an HttpOnly, SameSite=Strict cookie; every figure is then
fetched through the gateway with that token, so the page shows exactly what the supervisor's gRPC
calls may read. Refusals come back as the gateway's message (which names the field), never a trace.
Every value is put on the page as text (the page's script uses textContent; this file escapes what
it renders), and CSV cells that a spreadsheet would take for a formula are quoted.
"""

import csv
import html
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import grpc
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from egov.supervision.v1 import supervision_pb2 as pb
from services.common.caller import Caller
from services.common.roles import Role
from services.common.tokens import verify_token
from services.supervision.dashboard.gateway_client import GatewayClient, Refused

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "egov_giam_sat"
# Scripts only from the dashboard itself (no inline script, no CDN); Chart.js sets inline styles.
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'"
KINDS = {"unit": pb.SCOPE_KIND_UNIT, "agency": pb.SCOPE_KIND_AGENCY, "receiving": pb.SCOPE_KIND_RECEIVING,
         "procedure": pb.SCOPE_KIND_PROCEDURE}
HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.NOT_FOUND: 404,
               grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.UNAUTHENTICATED: 401,
               grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.FAILED_PRECONDITION: 400}
CSV_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "months": [("month", "Tháng"), ("received", "Tiếp nhận"), ("settled", "Đã giải quyết"),
               ("settled_early", "Trước hạn"), ("settled_on_time", "Đúng hạn"), ("settled_late", "Quá hạn"),
               ("on_time_rate", "Tỷ lệ đúng hạn (%)"), ("online_rate", "Tỷ lệ trực tuyến (%)"),
               ("online_payment_rate", "Thanh toán trực tuyến (%)"), ("apologies", "Thư xin lỗi")],
    "ranking": [("rank", "Hạng"), ("code", "Mã"), ("name", "Đơn vị"), ("received", "Tiếp nhận"),
                ("settled", "Đã giải quyết"), ("on_time_rate", "Tỷ lệ đúng hạn (%)"),
                ("in_progress_overdue", "Đang quá hạn"), ("online_rate", "Tỷ lệ trực tuyến (%)"),
                ("apologies", "Thư xin lỗi")],
    "overdue": [("dossier_code", "Mã hồ sơ"), ("procedure_name", "Thủ tục"), ("due_date", "Hạn trả"),
                ("days_late", "Số ngày quá hạn"), ("responsible_agency_name", "Đơn vị chịu trách nhiệm")],
    "apologies": [("issued_on", "Ngày"), ("dossier_code", "Mã hồ sơ"), ("procedure_name", "Thủ tục"),
                  ("responsible_agency_name", "Đơn vị xin lỗi"), ("reason", "Lý do"),
                  ("new_due_date", "Hẹn mới"), ("letter_number", "Số thư")],
}


class Dashboard:
    def __init__(self, gateway: GatewayClient, token_public_key: bytes, chart_js: Path,
                 today: Callable[[], date] = date.today) -> None:
        self.gateway = gateway
        self.public_key = token_public_key
        self.chart_js = chart_js
        self.today = today
        self.urls = Map([
            Rule("/", endpoint="page"), Rule("/dang-nhap", endpoint="sign_in", methods=["GET", "POST"]),
            Rule("/dang-xuat", endpoint="sign_out", methods=["POST"]),
            Rule("/api/toi", endpoint="me"), Rule("/api/chi-so", endpoint="index"),
            Rule("/api/qua-han", endpoint="overdue"), Rule("/api/thu-xin-loi", endpoint="apologies"),
            Rule("/csv/<table>", endpoint="csv"), Rule("/static/<name>", endpoint="static"),
            Rule("/healthz", endpoint="health"),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self.urls.bind_to_environ(environ).match()
            response: Response = getattr(self, f"on_{endpoint}")(request, **args)
        except Refused as refused:
            response = self._refused(request, refused)
        except HTTPException as exc:
            response = _json({"error": exc.description or exc.name}, exc.code or 500)
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("dashboard request %s failed (reference %s)", request.path, ref)
            response = _json({"error": f"Lỗi máy chủ; mã tham chiếu {ref}"}, 500)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response(environ, start_response)

    # -- pages -----------------------------------------------------------------------------------------
    def on_page(self, request: Request) -> Response:
        if not request.cookies.get(COOKIE):
            return Response(status=303, headers={"Location": "/dang-nhap"})
        return Response((STATIC / "dashboard.html").read_bytes(), content_type="text/html; charset=utf-8")

    def on_sign_in(self, request: Request) -> Response:
        if request.method == "GET":
            return _login_page("")
        form = request.form
        try:
            token = self.gateway.sign_in(form.get("civil_servant_id", "").strip(), form.get("password", ""),
                                         form.get("code", "").strip())
        except Refused as refused:
            return _login_page(_sign_in_message(refused), status=HTTP_STATUS.get(refused.status, 502))
        response = Response(status=303, headers={"Location": "/"})
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    def on_sign_out(self, request: Request) -> Response:
        response = Response(status=303, headers={"Location": "/dang-nhap"})
        response.delete_cookie(COOKIE, path="/")
        return response

    def on_static(self, request: Request, name: str) -> Response:
        files = {"chart.umd.min.js": self.chart_js, "dashboard.js": STATIC / "dashboard.js",
                 "dashboard.css": STATIC / "dashboard.css"}
        if name not in files:
            raise NotFound("Không có tệp này")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(files[name].read_bytes(), content_type=f"{kind}; charset=utf-8")

    def on_health(self, request: Request) -> Response:
        return _json({"status": "ok"})

    # -- data ------------------------------------------------------------------------------------------
    def on_me(self, request: Request) -> Response:
        """The signed-in supervisor and where the dashboard opens: the first unit or agency they supervise."""
        caller = self._caller(request)
        codes = sorted(caller.agencies_with(Role.SUPERVISOR), key=lambda c: ("." in c, c))   # units first
        return _json({"subject": caller.subject, "supervises": codes})

    def on_index(self, request: Request) -> Response:
        kind, code, first, last = self._scope(request), request.args.get("code", ""), *self._period(request)
        return _json(self.gateway.get_index(self._token(request), kind, code, first, last))

    def on_overdue(self, request: Request) -> Response:
        return _json(self.gateway.overdue(self._token(request), self._scope(request), request.args.get("code", "")))

    def on_apologies(self, request: Request) -> Response:
        first, last = self._period(request)
        return _json(self.gateway.apologies(self._token(request), self._scope(request), request.args.get("code", ""),
                                            first, last))

    def on_csv(self, request: Request, table: str) -> Response:
        if table not in CSV_COLUMNS:
            raise NotFound(f"Không có bảng {table}")
        token, kind, code = self._token(request), self._scope(request), request.args.get("code", "")
        first, last = self._period(request)
        rows: list[dict[str, Any]]
        if table in ("months", "ranking"):
            answer = self.gateway.get_index(token, kind, code, first, last)
            if table == "months":
                rows = [{"month": m["month"], **m["figures"]} for m in answer["months"]]
            else:
                rows = [{"rank": i + 1, "code": c["scope"]["code"], "name": c["name"], **c["figures"]}
                        for i, c in enumerate(ranking(answer["children"]))]
        elif table == "overdue":
            rows = self.gateway.overdue(token, kind, code)["dossiers"]
        else:
            rows = self.gateway.apologies(token, kind, code, first, last)["apologies"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([title for _, title in CSV_COLUMNS[table]])
        for row in rows:
            writer.writerow([_cell(row.get(name, "")) for name, _ in CSV_COLUMNS[table]])
        return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="chi-so-766-{table}-{code}-{first}-{last}.csv"'})

    # -- helpers ---------------------------------------------------------------------------------------
    def _token(self, request: Request) -> str:
        token = request.cookies.get(COOKIE, "")
        if not token:
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "Chưa đăng nhập")
        return token

    def _caller(self, request: Request) -> Caller:
        try:
            return verify_token(self.public_key, self._token(request))
        except Refused:
            raise
        except Exception:
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "Phiên đăng nhập đã hết hạn; hãy đăng nhập lại") from None

    def _scope(self, request: Request) -> int:
        kind = request.args.get("kind", "unit")
        if kind not in KINDS:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"kind: phải là một trong {', '.join(KINDS)}")
        return KINDS[kind]

    def _period(self, request: Request) -> tuple[str, str]:
        """Default: this month and the 12 before it."""
        today = self.today()
        start = date(today.year - 1, today.month, 1)
        return request.args.get("from", f"{start:%Y-%m}"), request.args.get("to", f"{today:%Y-%m}")

    def _refused(self, request: Request, refused: Refused) -> Response:
        status = HTTP_STATUS.get(refused.status, 502)
        message = refused.message if status != 502 else "Hệ thống tạm thời không trả lời; hãy thử lại sau"
        return _json({"error": message, "status": refused.status.name}, status)


def ranking(children: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Units ranked by the on-time rate, then by dossiers settled, those with nothing settled last."""
    return sorted(children, key=lambda c: (-(int(c["figures"]["settled"]) > 0), -float(c["figures"]["on_time_rate"]),
                                           -int(c["figures"]["settled"]), c["name"]))


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8", headers={"Cache-Control": "no-store"})


def _sign_in_message(refused: Refused) -> str:
    if refused.status in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
                          grpc.StatusCode.NOT_FOUND):
        return "Sai mã cán bộ, mật khẩu hoặc mã xác thực"
    if refused.status == grpc.StatusCode.INVALID_ARGUMENT:
        return f"Thông tin chưa hợp lệ: {refused.message}"
    return "Hệ thống tạm thời không trả lời; hãy thử lại sau"


def _login_page(message: str, status: int = 200) -> Response:
    error = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    page = (STATIC / "login.html").read_text(encoding="utf-8").replace("<!--error-->", error)
    return Response(page, status=status, content_type="text/html; charset=utf-8")
