"""micromoments HTTP routes and event handlers: parse, one use-case call, respond.

Routes:
  POST /v1/track, /v1/identify, /v1/batch   Segment-spec ingest (write key in HTTP Basic)
  GET  /q/{code}                             what a phone camera opens: 302 or a 404 page
                                             (bots and repeat scans are redirected, not counted)
  POST /v1/devices                           register a push token (write key)
  POST /v1/offers/{offerId}/redeem           one-click purchase / till redemption (write key)
  GET|POST /v1/unsubscribe?token=            one-click unsubscribe (RFC 8058); GET shows a page
  GET  /health                               liveness (no data)
  /admin/campaigns[...]                      marketers: create, list, get, replace, pause, resume, archive
  /admin/qr-codes[...]                       QR codes: create, list, get, update, revoke, rotate,
                                             image (PNG/SVG), stats; /admin/stores/{id}/qr-sheet
                                             and /qr-stats: a store's print sheet and analytics
  POST /admin/apps                           create an app and its write key
  GET  /admin/users/{user_id}                a user's profile
  GET  /admin/users/{user_id}/export         everything held about a user, as JSON
  GET  /admin/reports/{funnel,campaigns,engagement,peak-hours,lift,suppression}
                                             reports over the counters, as JSON (?from=&to=
                                             &store=&campaign=&moment=; long lists in pages,
                                             ?offset=&limit=; peak-hours and dashboard ?metric=)
  GET  /admin/dashboard                      the reports on one HTML page (a browser may use
                                             HTTP Basic locally: password = the admin token)
  POST /admin/dashboard/links                a signed link to it that expires, for a phone
  GET  /dashboard/{token}                    the dashboard through such a link (404 page if not valid)
  DELETE /admin/users/{user_id}              erase a user: profile, moments, offers, caps,
                                             devices and push endpoints, aliases, anonymous ids
Events:
  SQS events queue -> process_events         the worker (exactly once per messageId)
  SNS SES feedback -> ses_feedback           bounces and complaints suppress the address

Everything heavy is imported where it is used: every Lambda function imports this module.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import Request

from chalicelib import observability, wiring
from chalicelib.http_errors import handles_errors, json_response

app = Chalice(app_name="micromoments")
observability.install(app)

# Read at import: `chalice deploy` loads app.py with the stage's environment variables.
EVENTS_QUEUE_NAME = os.environ.get("MM_EVENTS_QUEUE_NAME", "micromoments-dev-events")
FEEDBACK_TOPIC_NAME = os.environ.get("MM_SES_FEEDBACK_TOPIC_NAME", "micromoments-dev-ses-feedback")
INGEST_CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
VISITOR_COOKIE = "mm_vid"
SCAN_MEMORY_COOKIE = "mm_qs"  # chalicelib.domain.qr_scans.MEMORY_COOKIE
iam = IAMAuthorizer()


def _request() -> Request:
    request = app.current_request
    assert request is not None, "only called while handling a request"
    return request


def _accepted(result: Any) -> Response:
    body: dict[str, Any] = {"success": True, "accepted": result.accepted}
    if result.rejected:
        body["rejected"] = [r.as_dict() for r in result.rejected]
    return json_response(200, body)


def _ingest(event_type: str | None) -> Response:
    request = _request()
    container = wiring.container()
    app_id = container.write_keys.app_for(request.headers)
    if event_type is None:
        return _accepted(container.ingest.batch(app_id, request.raw_body))
    return _accepted(container.ingest.single(app_id, request.raw_body, event_type))


@app.route("/v1/track", methods=["POST"], content_types=INGEST_CONTENT_TYPES, cors=True)
@handles_errors
def track() -> Response:
    return _ingest("track")


@app.route("/v1/identify", methods=["POST"], content_types=INGEST_CONTENT_TYPES, cors=True)
@handles_errors
def identify() -> Response:
    return _ingest("identify")


@app.route("/v1/batch", methods=["POST"], content_types=INGEST_CONTENT_TYPES, cors=True)
@handles_errors
def batch() -> Response:
    return _ingest(None)


NOT_FOUND_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Code not recognised</title>
<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">
<h1>This code isn't recognised</h1><p>{message}</p></body></html>"""


def _html(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=NOT_FOUND_PAGE.format(message=html.escape(message)),
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )


def _cookies(headers: Any) -> dict[str, str]:
    raw = headers.get("cookie") or ""
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _scan_request(request: Request) -> Any:
    """What the request says about the client (headers only)."""
    from chalicelib.domain.qr_scans import ScanRequest

    headers = request.headers
    identity = (request.context or {}).get("identity") or {}
    return ScanRequest(
        user_agent=headers.get("user-agent") or identity.get("userAgent"),
        accept_language=headers.get("accept-language"),
        sec_fetch_mode=headers.get("sec-fetch-mode"),
        sec_fetch_dest=headers.get("sec-fetch-dest"),
        purpose=headers.get("sec-purpose")
        or headers.get("purpose")
        or headers.get("x-purpose")
        or headers.get("x-moz"),
    )


# Counted per outcome; a bot or a repeat is redirected but records nothing.
_SCAN_METRICS = {"not_queued": "QrScansNotQueued", "repeat": "QrRepeatScans"}


@app.route("/q/{code}", methods=["GET"])
def qr_redirect(code: str) -> Response:
    from chalicelib.domain.errors import NotFound, RetryableError

    request = _request()
    container = wiring.container()
    cookies = _cookies(request.headers)
    try:
        result = container.scan_qr.scan(
            code, cookies.get(VISITOR_COOKIE), _scan_request(request), cookies.get(SCAN_MEMORY_COOKIE)
        )
    except NotFound:
        return _html(404, "Please ask a member of staff; this label may have been tampered with.")
    except RetryableError:
        return _html(
            503, "We couldn't load this right now. Please scan again in a moment.", {"Retry-After": "2"}
        )
    if result.outcome != "counted":
        observability.count(_SCAN_METRICS.get(result.outcome, "QrBotScans"))
    secure = "; Secure" if container.settings.deployed else ""
    set_cookies = []
    if result.visitor_id is not None:
        set_cookies.append(
            f"{VISITOR_COOKIE}={result.visitor_id}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax{secure}"
        )
    if result.memory_cookie is not None:
        set_cookies.append(
            f"{SCAN_MEMORY_COOKIE}={result.memory_cookie}; Max-Age=86400; Path=/; HttpOnly; SameSite=Lax{secure}"
        )
    headers: dict[str, str | list[str]] = {
        "Location": result.destination,
        "Content-Type": "text/plain; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    if set_cookies:
        headers["Set-Cookie"] = set_cookies[0] if len(set_cookies) == 1 else set_cookies
    return Response(body="", status_code=302, headers=headers)


@app.route("/c/{token}", methods=["GET"])
def offer_click(token: str) -> Response:
    """The tracked link in an offer's email (and a push's ``deep_link``): count the click, then
    send the shopper to the offer's deep link (only ever an offer's own stored link)."""
    from chalicelib.domain.errors import NotFound, RetryableError

    request = _request()
    try:
        result = wiring.container().offer_clicks.click(token, _scan_request(request))
    except NotFound as exc:
        return _page(404, "Offer not found", f"<p>{html.escape(str(exc).capitalize())}.</p>")
    except RetryableError:
        page = _page(503, "Please try again", "<p>We couldn't open this offer just now.</p>")
        page.headers["Retry-After"] = "2"
        return page
    if result.outcome != "counted":
        observability.count("OfferClicksNotCounted")
    headers = {
        "Location": result.destination,
        "Content-Type": "text/plain; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return Response(body="", status_code=302, headers=headers)


@app.route("/health", methods=["GET"])
def health() -> Response:
    return json_response(200, {"ok": True})


def _query_param(request: Request, name: str) -> str | None:
    params: dict[str, str] = dict(request.query_params or {})
    return params.get(name)


def _json_body(limit: int = 16 * 1024) -> Any:
    from chalicelib.contracts.segment import parse_json

    return parse_json(_request().raw_body, limit)


@app.route("/v1/devices", methods=["POST"], content_types=INGEST_CONTENT_TYPES, cors=True)
@handles_errors
def register_device() -> Response:
    container = wiring.container()
    container.write_keys.app_for(_request().headers)
    return json_response(200, container.audience.register_device(_json_body()))


@app.route("/v1/offers/{offer_id}/redeem", methods=["POST"], content_types=INGEST_CONTENT_TYPES, cors=True)
@handles_errors
def redeem_offer(offer_id: str) -> Response:
    from chalicelib.domain.errors import FieldError, InvalidInput

    container = wiring.container()
    container.write_keys.app_for(_request().headers)
    body = _json_body()
    code = body.get("code")
    if not isinstance(code, str) or not 1 <= len(code) <= 64:
        raise InvalidInput([FieldError("code", "is required: the offer's redemption code")])
    return json_response(200, {"redeemed": True, **container.redemptions.redeem(offer_id, code)})


UNSUBSCRIBE_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<body style="font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">
<h1>{title}</h1>{body}</body></html>"""


def _page(status: int, title: str, body: str) -> Response:
    return Response(
        body=UNSUBSCRIBE_PAGE.format(title=html.escape(title), body=body),
        status_code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@app.route(
    "/v1/unsubscribe",
    methods=["GET", "POST"],
    content_types=[
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
        "application/json",
    ],
)
def unsubscribe() -> Response:
    """RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` here. A GET (the visible
    link) only shows a confirmation button, so link scanners that prefetch URLs in mail
    cannot unsubscribe anyone."""
    from chalicelib.domain.errors import NotFound, RetryableError

    request = _request()
    token = _query_param(request, "token") or ""
    if request.method == "GET":
        if not token:
            return _page(404, "Link not valid", "<p>This unsubscribe link is incomplete.</p>")
        form = (
            f'<p>Stop receiving offers from us on every channel?</p><form method="post" '
            f'action="?token={html.escape(token)}"><button type="submit" style="font-size:1rem;'
            f'padding:.6rem 1rem">Unsubscribe</button></form>'
        )
        return _page(200, "Unsubscribe", form)
    try:
        wiring.container().audience.unsubscribe(token)
    except NotFound:
        return _page(404, "Link not valid", "<p>This unsubscribe link is not valid.</p>")
    except RetryableError:
        return _page(503, "Please try again", "<p>We couldn't record that just now.</p>")
    return _page(200, "You're unsubscribed", "<p>You won't receive any more offers from us.</p>")


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = _request()
        wiring.container().admin_auth.check(request.headers, request.context or {})
        return view(*args, **kwargs)

    return wrapper


@app.route(
    "/admin/apps",
    methods=["POST"],
    authorizer=iam,
    content_types=["application/json", "application/x-www-form-urlencoded"],
)
@handles_errors
@admin_only
def create_app() -> Response:
    from chalicelib.contracts.segment import parse_json

    body = parse_json(_request().raw_body, 16 * 1024)
    return json_response(201, wiring.container().admin.create_app(body))


@app.route("/admin/users/{user_id}", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def get_user(user_id: str) -> Response:
    return json_response(200, wiring.container().admin.user_view(_path_param(user_id)))


@app.route("/admin/users/{user_id}", methods=["DELETE"], authorizer=iam)
@handles_errors
@admin_only
def erase_user(user_id: str) -> Response:
    return json_response(200, wiring.container().admin.erase_user(_path_param(user_id)))


@app.route("/admin/users/{user_id}/export", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def export_user(user_id: str) -> Response:
    return json_response(200, wiring.container().admin.export_user(_path_param(user_id)))


def _path_param(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


@app.on_sqs_message(queue=EVENTS_QUEUE_NAME, batch_size=10)
def process_events(event: Any) -> None:
    from chalicelib.use_cases.process_events import BatchFailed, QueueRecord, process_batch

    container = wiring.container()
    records = [
        QueueRecord(record.to_dict().get("messageId", ""), record.receipt_handle, record.body)
        for record in event
    ]
    try:
        report = process_batch(
            records, container.process_event, container.acknowledger, on_error=observability.record_failure
        )
    except BatchFailed as failed:
        observability.record_batch(failed.report)
        raise
    observability.record_batch(report)


@app.route("/admin/campaigns", methods=["POST"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def create_campaign() -> Response:
    campaign = wiring.container().campaign_admin.create(_json_body(256 * 1024))
    return json_response(201, campaign.as_dict())


@app.route("/admin/campaigns", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def list_campaigns() -> Response:
    status = _query_param(_request(), "status")
    campaigns = wiring.container().campaign_admin.list(status)
    return json_response(200, {"campaigns": [c.as_dict() for c in campaigns]})


@app.route("/admin/campaigns/{campaign_id}", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def get_campaign(campaign_id: str) -> Response:
    container = wiring.container()
    campaign = container.campaign_admin.get(campaign_id)
    return json_response(
        200, {**campaign.as_dict(), "budget_used": container.campaigns.budget_used(campaign_id)}
    )


@app.route(
    "/admin/campaigns/{campaign_id}", methods=["PUT"], authorizer=iam, content_types=["application/json"]
)
@handles_errors
@admin_only
def replace_campaign(campaign_id: str) -> Response:
    campaign = wiring.container().campaign_admin.replace(campaign_id, _json_body(256 * 1024))
    return json_response(200, campaign.as_dict())


@app.route("/admin/campaigns/{campaign_id}/{action}", methods=["POST"], authorizer=iam)
@handles_errors
@admin_only
def change_campaign_status(campaign_id: str, action: str) -> Response:
    from chalicelib.domain.errors import NotFound

    statuses = {"pause": "paused", "resume": "active", "archive": "archived"}
    if action not in statuses:
        raise NotFound(f"no action {action!r}; use pause, resume or archive")
    campaign = wiring.container().campaign_admin.set_status(campaign_id, statuses[action])
    return json_response(200, campaign.as_dict())


@app.route("/admin/users/{user_id}/offers", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def user_offers(user_id: str) -> Response:
    from chalicelib.domain.profile import Subject

    records = wiring.container().offer_ledger.list_for(Subject.user(_path_param(user_id)))
    records.sort(key=lambda r: r.get("created_at", ""), reverse=True)
    return json_response(200, {"offers": records})


# --- QR codes (admin) ----------------------------------------------------------------------


@app.route("/admin/qr-codes", methods=["POST"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def create_qr_code() -> Response:
    return json_response(201, wiring.container().qr_admin.create(_json_body()))


@app.route("/admin/qr-codes", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def list_qr_codes() -> Response:
    request = _request()
    codes = wiring.container().qr_admin.list_codes(
        _query_param(request, "store"), _query_param(request, "state"), _query_param(request, "kid")
    )
    return json_response(200, {"qr_codes": codes})


@app.route("/admin/qr-codes/{qr_id}", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def get_qr_code(qr_id: str) -> Response:
    return json_response(200, wiring.container().qr_admin.get(_path_param(qr_id)))


@app.route("/admin/qr-codes/{qr_id}", methods=["PATCH"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def update_qr_code(qr_id: str) -> Response:
    return json_response(200, wiring.container().qr_admin.update(_path_param(qr_id), _json_body()))


@app.route("/admin/qr-codes/{qr_id}/revoke", methods=["POST"], authorizer=iam)
@handles_errors
@admin_only
def revoke_qr_code(qr_id: str) -> Response:
    return json_response(200, wiring.container().qr_admin.revoke(_path_param(qr_id)))


@app.route(
    "/admin/qr-codes/{qr_id}/rotate", methods=["POST"], authorizer=iam, content_types=["application/json"]
)
@handles_errors
@admin_only
def rotate_qr_code(qr_id: str) -> Response:
    body = _json_body() if _request().raw_body else None
    return json_response(200, wiring.container().qr_admin.rotate(_path_param(qr_id), body))


@app.route("/admin/qr-codes/{qr_id}/image", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def qr_code_image(qr_id: str) -> Response:
    """PNG (binary: send ``Accept: image/png`` or ``*/*``) or SVG, ``?format=png|svg&error=M
    &scale=10&border=4``."""
    request = _request()
    params: dict[str, str] = dict(request.query_params or {})
    qr_id = _path_param(qr_id)
    body, content_type = wiring.container().qr_admin.image(qr_id, params.get("format"), params)
    extension = "png" if content_type == "image/png" else "svg"
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'inline; filename="{qr_id.upper()}.{extension}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@app.route("/admin/qr-codes/{qr_id}/stats", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def qr_code_stats(qr_id: str) -> Response:
    request = _request()
    stats = wiring.container().qr_admin.stats(
        _path_param(qr_id), _query_param(request, "days"), _query_param(request, "to")
    )
    return json_response(200, stats)


@app.route("/admin/stores/{store_id}/qr-stats", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def store_qr_stats(store_id: str) -> Response:
    request = _request()
    stats = wiring.container().qr_admin.store_stats(
        _path_param(store_id),
        _query_param(request, "days"),
        _query_param(request, "to"),
        _query_param(request, "placement"),
    )
    return json_response(200, stats)


@app.route("/admin/stores/{store_id}/qr-sheet", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def store_qr_sheet(store_id: str) -> Response:
    """Every active code of the store with its label, on one printable page (``?format=html|svg``)."""
    request = _request()
    body, content_type = wiring.container().qr_admin.sheet(
        _path_param(store_id), _query_param(request, "format"), _query_param(request, "error")
    )
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# Reports (issue 6): ?from=&to=&store=&campaign=&moment= on each; see use_cases/reports.py ----
def _report_params() -> dict[str, str]:
    return dict(_request().query_params or {})


@app.route("/admin/reports/funnel", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_funnel() -> Response:
    return json_response(200, wiring.container().reports.funnel(_report_params()))


@app.route("/admin/reports/campaigns", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_campaigns() -> Response:
    return json_response(200, wiring.container().reports.campaigns(_report_params()))


@app.route("/admin/reports/engagement", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_engagement() -> Response:
    """``?by=campaign|store|moment&interval=day|hour``."""
    return json_response(200, wiring.container().reports.engagement(_report_params()))


@app.route("/admin/reports/peak-hours", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_peak_hours() -> Response:
    """``?metric=moments|sent|engaged|redeemed``: day of week x hour in each store's time."""
    return json_response(200, wiring.container().reports.peak_hours(_report_params()))


@app.route("/admin/reports/lift", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_lift() -> Response:
    return json_response(200, wiring.container().reports.lift(_report_params()))


@app.route("/admin/reports/suppression", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def report_suppression() -> Response:
    return json_response(200, wiring.container().reports.suppression(_report_params()))


# A browser has no Bearer token: this challenge makes it ask (any username, password = the
# local stage's admin token). Deployed stages are IAM only: `python -m cli reports dashboard`.
DASHBOARD_CHALLENGE = 'Basic realm="micromoments admin", charset="UTF-8"'


@app.route("/admin/dashboard", methods=["GET"], authorizer=iam)
@handles_errors
def admin_dashboard() -> Response:
    """The reports on one HTML page, filtered like them (``?from=&to=&store=&campaign=&moment=``)."""
    from chalicelib.domain.errors import Unauthorized
    from chalicelib.http_errors import error_response

    request = _request()
    try:
        wiring.container().admin_auth.check(request.headers, request.context or {})
    except Unauthorized as exc:
        refused = error_response(exc)
        refused.headers["WWW-Authenticate"] = DASHBOARD_CHALLENGE
        return refused
    return _dashboard_page()


@app.route("/admin/dashboard/links", methods=["POST"], authorizer=iam, content_types=["application/json"])
@handles_errors
def create_dashboard_link() -> Response:
    """A signed link to the dashboard for a browser (a phone) that cannot sign requests:
    ``{"hours": 12}`` (optional, at most a week) -> ``201 {"url", "expires_at"}``."""
    request = _request()
    by = wiring.container().admin_auth.check(request.headers, request.context or {})
    body = _json_body(1024) if request.raw_body else {}
    if not isinstance(body, dict):
        from chalicelib.domain.errors import FieldError, InvalidInput

        raise InvalidInput([FieldError("body", "must be a JSON object")])
    link = wiring.container().dashboard_links.mint(body.get("hours"), by)
    return json_response(201, link.as_dict())


@app.route("/dashboard/{token}", methods=["GET"])
def dashboard_by_link(token: str) -> Response:
    """The dashboard through a signed, expiring link (``POST /admin/dashboard/links``)."""
    from chalicelib.domain.errors import InvalidInput, NotFound, RetryableError

    try:
        wiring.container().dashboard_links.check(token)
        return _dashboard_page()
    except NotFound as exc:
        return _page(404, "Dashboard link not valid", f"<p>{html.escape(str(exc).capitalize())}.</p>")
    except InvalidInput as exc:
        problems = "".join(f"<li>{html.escape(e.field)}: {html.escape(e.message)}</li>" for e in exc.errors)
        return _page(400, "Check the filters", f"<ul>{problems}</ul>")
    except RetryableError:
        page = _page(503, "Please try again", "<p>We couldn't read the reports just now.</p>")
        page.headers["Retry-After"] = "2"
        return page


def _dashboard_page() -> Response:
    from chalicelib import dashboard

    page = dashboard.render(wiring.container().reports.dashboard(_report_params()))
    return Response(
        body=page,
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        },
    )


@app.on_sns_message(topic=FEEDBACK_TOPIC_NAME)
def ses_feedback(event: Any) -> None:
    suppressed = wiring.container().audience.ses_feedback(event.message)
    if suppressed:
        observability.count("AddressesSuppressed", len(suppressed))


# Stores and their geofences (issue 4) -------------------------------------------------------
@app.route("/admin/stores", methods=["POST"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def create_store() -> Response:
    return json_response(201, wiring.container().store_admin.create(_json_body(512 * 1024)))


@app.route("/admin/stores", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def list_stores() -> Response:
    return json_response(200, {"stores": wiring.container().store_admin.list()})


@app.route("/admin/stores/{store_id}", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def get_store(store_id: str) -> Response:
    return json_response(200, wiring.container().store_admin.get(_path_param(store_id)))


@app.route("/admin/stores/{store_id}", methods=["PATCH"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def update_store(store_id: str) -> Response:
    body = _json_body(512 * 1024)
    return json_response(200, wiring.container().store_admin.update(_path_param(store_id), body))


@app.route("/admin/stores/{store_id}", methods=["DELETE"], authorizer=iam)
@handles_errors
@admin_only
def delete_store(store_id: str) -> Response:
    wiring.container().store_admin.delete(_path_param(store_id))
    return Response(body="", status_code=204)


# Videos (issue 4): admin, and the video platform's signed milestone webhook -----------------
@app.route("/admin/videos", methods=["POST"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def create_video() -> Response:
    return json_response(201, wiring.container().video_admin.create(_json_body()))


@app.route("/admin/videos", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def list_videos() -> Response:
    return json_response(200, {"videos": wiring.container().video_admin.list()})


@app.route("/admin/videos/{video_id}", methods=["GET"], authorizer=iam)
@handles_errors
@admin_only
def get_video(video_id: str) -> Response:
    return json_response(200, wiring.container().video_admin.get(_path_param(video_id)))


@app.route("/admin/videos/{video_id}", methods=["PATCH"], authorizer=iam, content_types=["application/json"])
@handles_errors
@admin_only
def update_video(video_id: str) -> Response:
    return json_response(200, wiring.container().video_admin.update(_path_param(video_id), _json_body()))


@app.route("/admin/videos/{video_id}", methods=["DELETE"], authorizer=iam)
@handles_errors
@admin_only
def delete_video(video_id: str) -> Response:
    wiring.container().video_admin.delete(_path_param(video_id))
    return Response(body="", status_code=204)


@app.route("/v1/webhooks/video", methods=["POST"], content_types=["application/json"])
@handles_errors
def video_webhook() -> Response:
    """``Video Milestone Reached`` from a video platform, signed with ``X-MM-Signature:
    t=<unix>,v1=<HMAC-SHA256 hex of "{t}.{raw body}">``; queued like a track event."""
    request = _request()
    result = wiring.container().video_webhook.receive(request.raw_body, request.headers.get("x-mm-signature"))
    return _accepted(result)
