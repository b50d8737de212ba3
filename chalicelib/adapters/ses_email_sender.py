"""SES v2 implementation of ``EmailSender``: one raw MIME message per offer.

Owns the message's shape and its safety:
- multipart/alternative, a text and an HTML part, UTF-8, quoted-printable (7-bit safe, lines
  folded whatever the HTML looks like);
- ``From`` = the configured sender; ``To`` = exactly one bare address (``local@domain``), or
  ``DeliveryRejected("invalid_address")``: no CR/LF or other control characters, no spaces,
  commas, angle brackets or second ``@``, ASCII only (SES takes no SMTPUTF8 local parts), so
  nothing a shopper typed into a profile can add a header or a recipient;
- ``Subject``: CR, LF and other control characters become spaces; non-ASCII is RFC 2047
  encoded by the stdlib;
- RFC 8058 one-click unsubscribe: ``List-Unsubscribe: <https://...>`` and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. The URL must be absolute ``https``
  without spaces, controls or angle brackets (``DeliveryRejected("invalid_unsubscribe_url")``
  otherwise). Headers are written unfolded up to RFC 5322's 998 characters, because the
  stdlib's 78-column folding would RFC 2047-encode a long URL and break the header;
- ``X-MM-Offer-Id``: the offer id (SES replaces any ``Message-ID`` and ``Date`` we set, so the
  offer travels in an X-header), and the SES message tag ``offer_id`` so bounce and complaint
  events name the offer;
- SES tags from ``message.tags``: names and values reduced to ``[A-Za-z0-9_-]`` (anything
  else becomes ``_``, at most 256 characters; an empty value becomes ``_``);
- ``ConfigurationSetName`` when one is configured (event publishing: bounces, complaints).

Errors (``aws_errors.translated_delivery``): ``TooManyRequestsException``, ``Throttling``,
``LimitExceededException`` (sending quota), 5xx and network failures -> ``RetryableError``;
``MessageRejected`` -> ``DeliveryRejected("message_rejected")`` (this is also what SES and moto
answer for an unverified sender), ``MailFromDomainNotVerifiedException`` ->
``"mail_from_domain_not_verified"``, ``AccountSuspendedException`` -> ``"account_suspended"``,
``SendingPausedException`` -> ``"sending_paused"`` (recorded, not retried: a pause outlasts
the SQS retries and a late offer is worthless), ``BadRequestException`` -> ``"bad_request"``.
``NotFoundException`` (a configuration set that does not exist) and access denied are
misconfigurations and propagate.

Imports only the stdlib, botocore (through ``aws_errors``) and the domain; the boto3 client is
injected (SES v2, ``sesv2``).
"""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage as MimeMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.aws_errors import translated_delivery
from chalicelib.domain.delivery import DeliveryRejected, EmailMessage

if TYPE_CHECKING:
    from mypy_boto3_sesv2.client import SESV2Client
else:
    SESV2Client = Any

# RFC 5322's hard line limit: long headers (unsubscribe URLs) stay whole and unencoded.
MIME_POLICY = policy.SMTP.clone(max_line_length=998)
MAX_UNSUBSCRIBE_URL = 900  # leaves room for "List-Unsubscribe: <...>" within 998
MAX_TAG_LENGTH = 256
OFFER_HEADER = "X-MM-Offer-Id"

# A bare addr-spec: one "@", printable ASCII, none of the characters that start another
# address, a display name, a comment or a quoted string.
_ADDRESS = re.compile(
    r"[!#-'*+\-/-9=?A-Z^-~]+(?:\.[!#-'*+\-/-9=?A-Z^-~]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_NOT_TAG = re.compile(r"[^A-Za-z0-9_-]")
_NOT_HEADER_TOKEN = re.compile(r"[^A-Za-z0-9._:@-]")


def valid_address(address: str) -> bool:
    return _ADDRESS.fullmatch(address) is not None


def clean_subject(subject: str) -> str:
    """No line breaks (or other controls) can reach the header: they become single spaces."""
    return " ".join(_CONTROLS.sub(" ", subject).split())


def tag_text(value: str) -> str:
    return _NOT_TAG.sub("_", value)[:MAX_TAG_LENGTH] or "_"


def email_tags(message: EmailMessage) -> list[dict[str, str]]:
    tags = {tag_text(name): tag_text(value) for name, value in message.tags.items()}
    tags.setdefault("offer_id", tag_text(message.offer_id))
    return [{"Name": name, "Value": value} for name, value in tags.items()]


def _check_unsubscribe_url(url: str) -> None:
    # https, except the local stack's loopback address (mail never leaves moto there)
    secure = url.startswith("https://") or url.startswith(("http://127.0.0.1:", "http://localhost:"))
    if (
        not secure
        or len(url) > MAX_UNSUBSCRIBE_URL
        or _CONTROLS.search(url)
        or any(c in url for c in " <>\"'")
        or not url.isascii()
    ):
        raise DeliveryRejected("invalid_unsubscribe_url", "List-Unsubscribe needs an https URL")


def build_mime(message: EmailMessage, sender: str) -> bytes:
    """The raw message SES sends; refuses anything that could inject a header."""
    if not valid_address(message.to):
        raise DeliveryRejected("invalid_address", "the recipient must be one bare address")
    _check_unsubscribe_url(message.unsubscribe_url)
    mime = MimeMessage(policy=MIME_POLICY)
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = clean_subject(message.subject)
    mime["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
    mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime[OFFER_HEADER] = _NOT_HEADER_TOKEN.sub("_", message.offer_id)[:200]
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return mime.as_bytes()


class SesEmailSender:
    def __init__(self, client: SESV2Client, sender: str, configuration_set: str | None = None) -> None:
        _name, address = parseaddr(sender)
        if _CONTROLS.search(sender) or not valid_address(address):
            raise ValueError(f"the email sender must be an address, optionally with a name: {sender!r}")
        self._client = client
        self._sender = sender
        self._from_address = address  # verified identity: SES checks it, the header shows the name
        self._configuration_set = configuration_set

    def send(self, message: EmailMessage) -> str:
        raw = build_mime(message, self._sender)
        request: dict[str, Any] = {
            "FromEmailAddress": self._from_address,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": email_tags(message),
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        with translated_delivery("SendEmail"):
            response = self._client.send_email(**request)
        return str(response["MessageId"])
