"""Scan quality for ``/q/{code}``: which requests are shoppers, which repeat scans count once,
and which scans are a visitor's first of a code (or store) in a day. Pure: no AWS, no HTTP
framework, no clock of its own (callers pass ``now``).

- **Bots and link previews** (``bot_reason``): a request is a shopper's browser only if its
  user agent is not a known crawler, link-preview fetcher, HTTP library or headless browser,
  it is a top-level navigation (``Sec-Fetch-Mode``/``Sec-Fetch-Dest`` when sent, no
  prefetch/preview purpose), and it carries browser evidence: ``Accept-Language``,
  ``Sec-Fetch-Mode: navigate``, or the ``mm_vid`` cookie (which only requests judged to be
  browsers are ever given, so a bot cannot earn one by coming back). Anything else is still
  redirected, but records nothing.
- **Repeats and unique visitors** (``ScanMemory``): a small signed cookie (``mm_qs``) bound to
  the visitor id remembers, per code and per store, when this browser last had a scan counted
  and when it last counted as a unique visitor. A scan within ``dedupe_seconds`` of the last
  counted scan of the same code is a repeat and records nothing; a counted scan is
  ``unique_code`` / ``unique_store`` if the visitor had none counted for that code / store in
  the last 24 hours. The cookie keeps the 16 most recent codes and stores, so the /q/ path
  stays at one AWS call (the queue) with no read for deduplication.
- **Message ids** (``scan_message_id``): a counted scan's messageId is derived from visitor,
  code and the dedupe time bucket, so two requests racing before the cookie is stored collapse
  into one in the worker's exactly-once marker; and it names the code
  (``qr-{qr_id}-...``), so an offer triggered by the scan leads back to the code
  (``qr_id_of_message``), for scan -> redemption conversion.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chalicelib.domain.qr_token import ALPHABET, ID_LEN

MEMORY_COOKIE = "mm_qs"
UNIQUE_WINDOW_SECONDS = 24 * 3600
MEMORY_MAX_ENTRIES = 16
_STORE_PREFIX = "9"  # not in the base32 alphabet, so a store key never looks like a qr_id
_MAC_LEN = 16

# Lowercase substrings of user agents that are never a shopper scanning a label: link-preview
# fetchers (chat apps, social networks, mail security scanners), search and AI crawlers,
# HTTP libraries and command-line tools, headless browsers and site checkers.
BOT_AGENTS: tuple[str, ...] = (
    # link previews and unfurlers (in-app browsers of these apps send ordinary browser agents)
    "facebookexternalhit", "facebot", "facebookcatalog", "meta-externalagent", "twitterbot",
    "slackbot", "slack-imgproxy", "linkedinbot", "whatsapp/", "telegrambot", "discordbot",
    "skypeuripreview", "microsoftpreview", "pinterestbot", "redditbot", "embedly", "iframely",
    "vkshare", "kakaotalk-scrap", "mastodon/", "cardyb", "google-pagerenderer",
    "googleimageproxy", "outlook-ios-linkpreview", "bitlybot", "qwantify", "w3c_validator",
    # mail and URL security scanners
    "proofpoint", "mimecast", "barracuda", "safelinks", "urlscan", "virustotal",
    # search and AI crawlers
    "googlebot", "google-inspectiontool", "googleother", "adsbot-google", "mediapartners-google",
    "storebot-google", "bingbot", "bingpreview", "msnbot", "yandexbot", "yandeximages",
    "baiduspider", "duckduckbot", "duckassistbot", "applebot", "petalbot", "exabot",
    "seznambot", "ahrefsbot", "semrushbot", "mj12bot", "dotbot", "rogerbot", "bytespider",
    "gptbot", "chatgpt-user", "oai-searchbot", "claudebot", "claude-user", "anthropic-ai",
    "perplexitybot", "ccbot", "amazonbot", "diffbot", "dataforseobot", "ia_archiver",
    "archive.org_bot",
    # HTTP libraries, tools, headless browsers, monitors
    "curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp",
    "go-http-client", "java/", "okhttp", "apache-httpclient", "axios/", "node-fetch", "undici",
    "libwww-perl", "guzzlehttp", "postmanruntime", "insomnia", "httpie", "scrapy",
    "headlesschrome", "phantomjs", "puppeteer", "playwright", "selenium", "lighthouse",
    "pingdom", "uptimerobot", "statuscake", "site24x7", "datadog", "newrelicpinger", "zgrab",
    "masscan", "nmap",
)  # fmt: skip
# Generic words, as whole words ("Cubot" is a phone maker, not a bot).
_GENERIC_BOT = re.compile(r"(?:^|[^a-z])(?:bot|crawler|crawling|spider|scraper|preview|fetcher)(?:[^a-z]|$)")
_NAMED_BOT = re.compile(r"[a-z]{2,}(?:bot|crawler|spider)(?:/|\s*\(|;|\s|$)")
_NOT_BOTS = re.compile(r"cubot")
_KNOWN_BOT = re.compile("|".join(re.escape(marker) for marker in BOT_AGENTS))


@dataclass(frozen=True)
class ScanRequest:
    """What the HTTP request says about who is asking (headers only; never the destination)."""

    user_agent: str | None = None
    accept_language: str | None = None
    sec_fetch_mode: str | None = None
    sec_fetch_dest: str | None = None
    purpose: str | None = None  # Sec-Purpose / Purpose / X-Purpose / X-Moz


def bot_reason(request: ScanRequest, has_visitor_cookie: bool) -> str | None:
    """Why this request is not a shopper's scan (``"user_agent"``, ``"no_user_agent"``,
    ``"prefetch"``, ``"not_navigation"``, ``"no_browser_headers"``), or None for a shopper."""
    agent = (request.user_agent or "").strip()[:1024]
    if not agent:
        return "no_user_agent"
    if is_bot_agent(agent):
        return "user_agent"
    purpose = (request.purpose or "").lower()
    if "prefetch" in purpose or "preview" in purpose or "prerender" in purpose:
        return "prefetch"
    mode = (request.sec_fetch_mode or "").strip().lower()
    dest = (request.sec_fetch_dest or "").strip().lower()
    if (mode and mode != "navigate") or (dest and dest != "document"):
        # An <img>/<iframe>/fetch() somewhere else pointing at the code, not a phone opening it.
        return "not_navigation"
    if not (request.accept_language or mode == "navigate" or has_visitor_cookie):
        return "no_browser_headers"
    return None


@functools.lru_cache(maxsize=2048)
def is_bot_agent(user_agent: str) -> bool:
    """Cached: a warm Lambda sees the same few hundred agents again and again."""
    agent = user_agent.lower()
    if _KNOWN_BOT.search(agent):
        return True
    agent = _NOT_BOTS.sub("", agent)
    return bool(_GENERIC_BOT.search(agent) or _NAMED_BOT.search(agent))


# --- the scan memory cookie ----------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def store_key(store_id: str) -> str:
    digest = hashlib.blake2b(store_id.encode(), digest_size=5).digest()
    return _STORE_PREFIX + base64.b32encode(digest).decode()[:7]


@dataclass(frozen=True)
class ScanDecision:
    counted: bool  # False: a repeat within the dedupe window, record nothing
    unique_code: bool = False  # the visitor's first counted scan of this code in 24 h
    unique_store: bool = False  # ... of any code at this store in 24 h
    memory: ScanMemory | None = None  # what to remember (None: unchanged)


@dataclass(frozen=True)
class ScanMemory:
    """Per code (qr_id) and per store (``store_key``): (last counted, last unique), epoch s."""

    entries: dict[str, tuple[int, int]] = field(default_factory=dict)

    def decide(self, qr_id: str, store_id: str, now: datetime, dedupe_seconds: int) -> ScanDecision:
        t = int(now.timestamp())
        counted_at, unique_at = self.entries.get(qr_id, (0, 0))
        if dedupe_seconds > 0 and 0 <= t - counted_at < dedupe_seconds:
            return ScanDecision(counted=False)
        skey = store_key(store_id)
        unique_code = not 0 <= t - unique_at < UNIQUE_WINDOW_SECONDS
        store_unique_at = self.entries.get(skey, (0, 0))[1]
        unique_store = not 0 <= t - store_unique_at < UNIQUE_WINDOW_SECONDS
        entries = dict(self.entries)
        entries[qr_id] = (t, t if unique_code else unique_at)
        entries[skey] = (t, t if unique_store else store_unique_at)
        newest = sorted(entries.items(), key=lambda kv: max(kv[1]), reverse=True)[:MEMORY_MAX_ENTRIES]
        return ScanDecision(True, unique_code, unique_store, ScanMemory(dict(newest)))

    # Wire format: "{key}-{counted:x}-{unique:x}" (epoch seconds in hex) joined by ".", then "."
    # and a MAC over the visitor id and the entries (it cannot be edited or moved to another
    # visitor). 16 entries are about 450 bytes.
    def encode(self, visitor_id: str, key: bytes) -> str:
        payload = ".".join(f"{k}-{c:x}-{u:x}" for k, (c, u) in self.entries.items())
        return f"{payload}.{_memory_mac(visitor_id, payload, key)}"

    @classmethod
    def decode(cls, value: str | None, visitor_id: str, key: bytes) -> ScanMemory:
        """The memory in a cookie; empty if absent, malformed, or not this visitor's."""
        if not value or len(value) > 1024:
            return cls()
        payload, _, mac = value.rpartition(".")
        if not hmac.compare_digest(_memory_mac(visitor_id, payload, key), mac):
            return cls()
        entries: dict[str, tuple[int, int]] = {}
        for part in filter(None, payload.split(".")):
            fields = part.split("-")
            if len(fields) != 3 or len(fields[0]) != ID_LEN or len(entries) >= MEMORY_MAX_ENTRIES:
                return cls()
            try:
                entries[fields[0]] = (int(fields[1], 16), int(fields[2], 16))
            except ValueError:
                return cls()
        return cls(entries)


def _memory_mac(visitor_id: str, payload: str, key: bytes) -> str:
    digest = hmac.new(key, f"mmqs1|{visitor_id}|{payload}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:_MAC_LEN]


# --- message ids and the visitor parameter ----------------------------------------------------

_MESSAGE = re.compile(rf"^qr-([{ALPHABET}]{{{ID_LEN}}})-[0-9a-f]+$")


def scan_message_id(visitor_id: str, qr_id: str, now: datetime, dedupe_seconds: int) -> str:
    """``qr-{qr_id}-{hex}``: the same visitor, code and dedupe bucket give the same id."""
    if dedupe_seconds <= 0:
        return f"qr-{qr_id}-{uuid.uuid4().hex}"
    bucket = int(now.timestamp()) // dedupe_seconds
    digest = hashlib.blake2b(f"{visitor_id}|{qr_id}|{bucket}".encode(), digest_size=12).hexdigest()
    return f"qr-{qr_id}-{digest}"


def qr_id_of_message(message_id: object) -> str | None:
    """The code a ``/q/`` scan's messageId names (None for any other message)."""
    match = _MESSAGE.match(message_id) if isinstance(message_id, str) else None
    return match.group(1) if match else None


VISITOR_PARAM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def with_visitor(destination: str, param: str | None, visitor_id: str | None) -> str:
    """The destination with ``param=visitor_id`` added (e.g. Segment's ``ajs_aid``, which makes
    analytics.js on the landing page adopt the scan's anonymous id, so a later identify links
    the shopper to the scan). Unchanged without a param or a visitor, or if the destination
    already sets that parameter itself."""
    if not param or not visitor_id:
        return destination
    parts = urlsplit(destination)
    if any(name == param for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return destination
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({param: visitor_id})))
