"""The SNS platform applications of the local stack (moto only; never a real account).

``ensure_platform_apps(sns)`` creates, once, ``micromoments-local-apns`` (``APNS_SANDBOX``)
and ``micromoments-local-fcm`` (``GCM``) with dummy credentials and returns
``{"ios": arn, "android": arn}``: the values of ``MM_APNS_PLATFORM_APP_ARN`` and
``MM_FCM_PLATFORM_APP_ARN``. Calling it again returns the same ARNs and changes nothing.

The dummy credentials are meaningless to Apple and Google: deployed stages create their
platform applications with real ones (outside Chalice). Imports nothing from chalicelib.
"""

from __future__ import annotations

from typing import Any

# platform key -> (application name, SNS platform, dummy attributes)
LOCAL_APPS: dict[str, tuple[str, str, dict[str, str]]] = {
    "ios": (
        "micromoments-local-apns",
        "APNS_SANDBOX",
        {"PlatformPrincipal": "local-dummy-certificate", "PlatformCredential": "local-dummy-private-key"},
    ),
    "android": (
        "micromoments-local-fcm",
        "GCM",
        {"PlatformCredential": "local-dummy-fcm-service-account"},
    ),
}


def _existing(sns: Any) -> dict[str, str]:
    """ARN by ``{platform}/{name}`` (the tail of an application ARN: ``...:app/GCM/name``)."""
    found: dict[str, str] = {}
    for page in sns.get_paginator("list_platform_applications").paginate():
        for app in page.get("PlatformApplications", []):
            arn = app["PlatformApplicationArn"]
            found[arn.split(":app/", 1)[-1]] = arn
    return found


def ensure_platform_apps(sns: Any) -> dict[str, str]:
    existing = _existing(sns)
    arns: dict[str, str] = {}
    for key, (name, platform, attributes) in LOCAL_APPS.items():
        arn = existing.get(f"{platform}/{name}")
        if arn is None:
            arn = sns.create_platform_application(Name=name, Platform=platform, Attributes=attributes)[
                "PlatformApplicationArn"
            ]
        arns[key] = arn
    return arns
