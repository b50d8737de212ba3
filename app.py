"""micromoments HTTP routes and event handlers: parse, one use-case call, respond.

Routes:
  POST /v1/track, /v1/identify, /v1/batch   Segment-spec ingest (write key in HTTP Basic)
  GET  /q/{code}                             what a phone camera opens: 302 or a 404 page
  GET  /health                               liveness (no data)
  POST /admin/apps                           create an app and its write key
  GET  /admin/users/{user_id}                a user's profile
  DELETE /admin/users/{user_id}              erase a user (profile, markers, aliases)
Events:
  SQS events queue -> process_events         the worker (exactly once per messageId)

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
INGEST_CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
VISITOR_COOKIE = "mm_vid"
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


def _cookie(headers: Any, name: str) -> str | None:
    raw = headers.get("cookie") or ""
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


@app.route("/q/{code}", methods=["GET"])
def qr_redirect(code: str) -> Response:
    from chalicelib.domain.errors import NotFound, RetryableError

    request = _request()
    container = wiring.container()
    try:
        result = container.scan_qr.scan(code, _cookie(request.headers, VISITOR_COOKIE))
    except NotFound:
        return _html(404, "Please ask a member of staff; this label may have been tampered with.")
    except RetryableError:
        return _html(
            503, "We couldn't load this right now. Please scan again in a moment.", {"Retry-After": "2"}
        )
    if result.message_id is None:
        observability.count("QrScansNotQueued")
    secure = "; Secure" if container.settings.deployed else ""
    return Response(
        body="",
        status_code=302,
        headers={
            "Location": result.destination,
            "Content-Type": "text/plain; charset=utf-8",
            "Set-Cookie": f"{VISITOR_COOKIE}={result.visitor_id}; Max-Age=31536000; Path=/; "
            f"HttpOnly; SameSite=Lax{secure}",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@app.route("/health", methods=["GET"])
def health() -> Response:
    return json_response(200, {"ok": True})


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
