"""The delivery adapters against moto: SES v2 raw email, SNS push endpoints, SNS SMS.

In-process (``mock_aws``) for behaviour; ``botocore.stub.Stubber`` for the exact request and
for errors moto cannot produce (throttling, a suspended account...); one real moto server
(``ThreadedMotoServer`` on a free port) for ``devstack/outbox.py``'s reading of data.json.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_string, policy
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from chalicelib.adapters.ses_email_sender import SesEmailSender
from chalicelib.adapters.sns_push_sender import SnsPushSender
from chalicelib.adapters.sns_sms_sender import SnsSmsSender
from chalicelib.domain.delivery import (
    DeliveryRejected,
    EmailMessage,
    EndpointDisabled,
    PushMessage,
    SmsMessage,
)
from chalicelib.domain.errors import RetryableError
from devstack import outbox
from devstack.platform_apps import ensure_platform_apps

REGION = "us-east-1"
SENDER = "offers@shop.example.com"
UNSUBSCRIBE = "https://shop.example.com/u/tok-123?sig=abc"
# moto 5.2's CheckIfPhoneNumberIsOptedOut answers True for every number ending in 99 (its
# opt_out_numbers list only feeds ListPhoneNumbersOptedOut and OptInPhoneNumber).
OPTED_OUT = "+15555550199"
PHONE = "+15555550123"


def email(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "to": "alice@example.com",
        "subject": "Coffee 20% off for 30 minutes",
        "html": "<p>Hi Alice, <a href='https://shop.example.com/o/1'>your coffee</a></p>",
        "text": "Hi Alice, your coffee: https://shop.example.com/o/1",
        "unsubscribe_url": UNSUBSCRIBE,
        "offer_id": "off-1",
        "tags": {"campaign": "coffee"},
    }
    return EmailMessage(**{**fields, **overrides})


def push(endpoint_arn: str, **overrides: Any) -> PushMessage:
    fields: dict[str, Any] = {
        "endpoint_arn": endpoint_arn,
        "platform": "ios",
        "title": "You're near Store 1",
        "body": "Coffee 20% off for the next 30 minutes",
        "offer_id": "off-2",
        "deep_link": "shop://offers/off-2",
        "data": {"store_id": "store-001", "discount": 20},
    }
    return PushMessage(**{**fields, **overrides})


def parsed(raw: str) -> Any:
    return message_from_string(raw, policy=policy.default)


@dataclass
class Aws:
    sesv2: Any
    sns: Any
    apps: dict[str, str]

    def email_sender(self, sender: str = SENDER, configuration_set: str | None = None) -> SesEmailSender:
        return SesEmailSender(self.sesv2, sender, configuration_set)

    def push_sender(self) -> SnsPushSender:
        return SnsPushSender(self.sns, self.apps)

    def sms_sender(self, sender_id: str | None = "MicroMoment") -> SnsSmsSender:
        return SnsSmsSender(self.sns, sender_id, 0.5, "Promotional")

    def endpoint(self, arn: str) -> dict[str, str]:
        return dict(self.sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"])


@pytest.fixture
def aws() -> Iterator[Aws]:
    """Given moto with a verified SES sender and the local stack's two platform applications."""
    with mock_aws():
        sesv2 = boto3.client("sesv2", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sesv2.create_email_identity(EmailIdentity=SENDER)
        yield Aws(sesv2, sns, ensure_platform_apps(sns))


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION)
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


# -- email (SES v2) -------------------------------------------------------------------------
def test_an_email_is_sent_with_both_parts_and_one_click_unsubscribe(aws):
    message_id = aws.email_sender().send(email())

    [sent] = outbox.sent_in_process()["email"]
    assert sent["message_id"] == message_id
    assert sent["sender"] == SENDER
    assert sent["recipients"] == ["alice@example.com"]
    assert sent["subject"] == "Coffee 20% off for 30 minutes"
    assert sent["text"].strip() == email().text
    assert sent["html"].strip() == email().html
    assert sent["headers"]["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert sent["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent["headers"]["X-MM-Offer-Id"] == "off-1"
    mime = parsed(sent["raw"])
    assert mime.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mime.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in mime.iter_parts())


def test_non_ascii_subject_and_body_are_encoded_and_round_trip(aws):
    aws.email_sender().send(
        email(subject="Café ☕ -20 % à Zürich", text="Bonjour Zoë ☕", html="<p>Zoë ☕</p>")
    )

    [sent] = outbox.sent_in_process()["email"]
    assert sent["raw"].isascii()  # RFC 2047 subject, quoted-printable parts: 7-bit clean
    assert "=?utf-8?" in sent["raw"]
    assert sent["subject"] == "Café ☕ -20 % à Zürich"
    assert sent["text"].strip() == "Bonjour Zoë ☕"
    assert sent["html"].strip() == "<p>Zoë ☕</p>"


def test_a_long_unsubscribe_url_stays_one_unencoded_header(aws):
    url = "https://shop.example.com/u/" + "A" * 400 + "?sig=" + "b" * 64
    aws.email_sender().send(email(unsubscribe_url=url))

    [sent] = outbox.sent_in_process()["email"]
    assert f"List-Unsubscribe: <{url}>" in sent["raw"]  # not folded, not =?utf-8?q?...


def test_a_display_name_sender_is_checked_by_its_address(aws):
    aws.email_sender(sender=f"Café Offers <{SENDER}>").send(email())

    [sent] = outbox.sent_in_process()["email"]
    assert sent["sender"] == SENDER
    assert sent["headers"]["From"] == f"Café Offers <{SENDER}>"


def test_an_unverified_sender_is_refused(aws):
    with pytest.raises(DeliveryRejected) as refused:
        aws.email_sender(sender="someone@unverified.example.org").send(email())

    assert refused.value.reason == "message_rejected"
    assert outbox.sent_in_process()["email"] == []


@pytest.mark.parametrize(
    "to",
    [
        "alice@example.com\r\nBcc: eve@evil.example",
        "alice@example.com\nBcc: eve@evil.example",
        "alice@example.com\r",
        "alice@example.com, eve@evil.example",
        "Alice <alice@example.com>",
        "alice@example.com eve@evil.example",
        "alice@@example.com",
        "alice@ex@ample.com",
        "alice.example.com",
        "alice@localhost",
        "zoë@example.com",
        "",
    ],
)
def test_a_recipient_that_could_inject_headers_is_refused(to):
    client, _nothing_stubbed = stubbed("sesv2")  # any call to SES would fail the test

    with pytest.raises(DeliveryRejected) as refused:
        SesEmailSender(client, SENDER, None).send(email(to=to))

    assert refused.value.reason == "invalid_address"


def test_line_breaks_in_the_subject_cannot_add_headers(aws):
    aws.email_sender().send(email(subject="Hello\r\nBcc: eve@evil.example\nX-Evil: 1\u2028yes"))

    [sent] = outbox.sent_in_process()["email"]
    mime = parsed(sent["raw"])
    assert mime["Bcc"] is None and mime["X-Evil"] is None
    assert mime["Subject"] == "Hello Bcc: eve@evil.example X-Evil: 1 yes"
    assert sent["recipients"] == ["alice@example.com"]


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example.com/u/1",
        "https://shop.example.com/u/1>\r\nBcc: eve@evil.example",
        "https://shop.example.com/u/1 2",
        "mailto:unsubscribe@shop.example.com",
    ],
)
def test_an_unsafe_unsubscribe_url_is_refused(url):
    client, _nothing_stubbed = stubbed("sesv2")

    with pytest.raises(DeliveryRejected) as refused:
        SesEmailSender(client, SENDER, None).send(email(unsubscribe_url=url))

    assert refused.value.reason == "invalid_unsubscribe_url"


def test_a_sender_with_line_breaks_is_a_configuration_error():
    with pytest.raises(ValueError):
        SesEmailSender(
            boto3.client("sesv2", region_name=REGION), "offers@x.example\r\nBcc: eve@evil.example", None
        )


def test_the_request_carries_sanitised_tags_and_the_configuration_set():
    client, stubber = stubbed("sesv2")
    stubber.add_response(
        "send_email",
        {"MessageId": "m-1"},
        expected_params={
            "FromEmailAddress": SENDER,
            "Destination": {"ToAddresses": ["alice@example.com"]},
            "Content": {"Raw": {"Data": ANY}},
            "EmailTags": [
                {"Name": "campaign", "Value": "coffee_20_"},
                {"Name": "bad_key_", "Value": "x" * 256},
                {"Name": "empty", "Value": "_"},
                {"Name": "offer_id", "Value": "off-1"},
            ],
            "ConfigurationSetName": "offers",
        },
    )
    tags = {"campaign": "coffee 20%", "bad key!": "x" * 300, "empty": ""}

    assert SesEmailSender(client, SENDER, "offers").send(email(tags=tags)) == "m-1"
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("Throttling", 400),
        ("LimitExceededException", 400),
        ("InternalFailure", 500),
    ],
)
def test_ses_throttling_and_outages_are_retryable(code, status):
    client, stubber = stubbed("sesv2")
    stubber.add_client_error("send_email", code, "slow down", http_status_code=status)

    with pytest.raises(RetryableError):
        SesEmailSender(client, SENDER, None).send(email())


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("MessageRejected", "message_rejected"),
        ("MailFromDomainNotVerifiedException", "mail_from_domain_not_verified"),
        ("AccountSuspendedException", "account_suspended"),
        ("SendingPausedException", "sending_paused"),
        ("BadRequestException", "bad_request"),
    ],
)
def test_ses_refusals_are_delivery_rejected_with_a_reason(code, reason):
    client, stubber = stubbed("sesv2")
    stubber.add_client_error("send_email", code, "no", http_status_code=400)

    with pytest.raises(DeliveryRejected) as refused:
        SesEmailSender(client, SENDER, None).send(email())

    assert refused.value.reason == reason
    assert "SendEmail: no" in refused.value.detail


# -- push (SNS platform endpoints) ------------------------------------------------------------
def test_register_creates_an_enabled_endpoint_with_the_user_data(aws):
    arn = aws.push_sender().register("ios", "a" * 64, "user:alice")

    assert arn.startswith(aws.apps["ios"].replace(":app/", ":endpoint/"))
    attributes = aws.endpoint(arn)
    assert attributes["Enabled"] == "true"
    assert attributes["CustomUserData"] == "user:alice"
    assert attributes["Token"] == "a" * 64


def test_registering_the_same_token_again_returns_the_same_endpoint(aws):
    sender = aws.push_sender()
    first = sender.register("android", "fcm-token-1", "user:alice")

    assert sender.register("android", "fcm-token-1", "user:alice") == first
    assert sender.register("android", "fcm-token-1", "user:bob") == first  # a new owner
    assert aws.endpoint(first)["CustomUserData"] == "user:bob"
    endpoints = aws.sns.list_endpoints_by_platform_application(PlatformApplicationArn=aws.apps["android"])
    assert len(endpoints["Endpoints"]) == 1


def test_register_re_enables_a_disabled_endpoint(aws):
    sender = aws.push_sender()
    arn = sender.register("ios", "b" * 64, "user:alice")
    aws.sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})

    assert sender.register("ios", "b" * 64, "user:alice") == arn
    assert aws.endpoint(arn)["Enabled"] == "true"
    sender.send(push(arn))  # deliverable again


@pytest.mark.parametrize("platform", ["android", "web", ""])
def test_a_platform_without_an_application_is_refused(platform):
    client, _nothing_stubbed = stubbed("sns")
    sender = SnsPushSender(client, {"ios": "arn:aws:sns:us-east-1:123456789012:app/APNS/x", "android": None})

    with pytest.raises(DeliveryRejected) as refused:
        sender.register(platform, "token", "user:alice")

    assert refused.value.reason == "platform_not_configured"


def test_an_application_unknown_to_sns_is_platform_not_configured(aws):
    missing = aws.apps["ios"].replace("micromoments-local-apns", "deleted-app")

    with pytest.raises(DeliveryRejected) as refused:
        SnsPushSender(aws.sns, {"ios": missing}).register("ios", "token", "user:alice")

    assert refused.value.reason == "platform_not_configured"


def test_publishing_to_a_disabled_endpoint_raises_endpoint_disabled(aws):
    sender = aws.push_sender()
    arn = sender.register("android", "fcm-token-2", "user:alice")
    aws.sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})

    with pytest.raises(EndpointDisabled) as disabled:
        sender.send(push(arn, platform="android"))

    assert disabled.value.reason == "endpoint_disabled"
    assert isinstance(disabled.value, DeliveryRejected)
    assert outbox.sent_in_process()["push"] == []


def test_the_published_json_carries_the_offer_and_deep_link_for_apns_and_fcm(aws):
    sender = aws.push_sender()
    arn = sender.register("ios", "c" * 64, "user:alice")

    message_id = sender.send(push(arn, data={"store_id": "store-001", "discount": 20, "aps": "ignored"}))

    [sent] = outbox.sent_in_process()["push"]
    assert sent["message_id"] == message_id
    assert (sent["platform"], sent["title"], sent["offer_id"]) == (
        "APNS_SANDBOX",
        "You're near Store 1",
        "off-2",
    )
    structure = json.loads(sent["raw"])
    assert set(structure) == {"default", "APNS", "APNS_SANDBOX", "GCM"}
    assert structure["default"] == "Coffee 20% off for the next 30 minutes"
    for key in ("APNS", "APNS_SANDBOX"):
        apns = json.loads(structure[key])
        assert apns["aps"]["alert"] == {
            "title": "You're near Store 1",
            "body": "Coffee 20% off for the next 30 minutes",
        }
        assert (apns["offer_id"], apns["deep_link"]) == ("off-2", "shop://offers/off-2")
        assert (apns["store_id"], apns["discount"]) == ("store-001", 20)  # custom data outside aps
    fcm = json.loads(structure["GCM"])["fcmV1Message"]["message"]
    assert fcm["notification"] == {
        "title": "You're near Store 1",
        "body": "Coffee 20% off for the next 30 minutes",
    }
    assert fcm["data"] == {
        "store_id": "store-001",
        "discount": "20",
        "offer_id": "off-2",
        "deep_link": "shop://offers/off-2",
    }
    assert all(isinstance(value, str) for value in fcm["data"].values())


def test_a_push_without_a_deep_link_leaves_it_out(aws):
    sender = aws.push_sender()
    arn = sender.register("android", "fcm-token-3", "user:alice")
    sender.send(push(arn, platform="android", deep_link=None, data={}))

    [sent] = outbox.sent_in_process()["push"]
    assert (sent["platform"], sent["offer_id"], sent["deep_link"]) == ("GCM", "off-2", None)
    assert json.loads(json.loads(sent["raw"])["GCM"])["fcmV1Message"]["message"]["data"] == {
        "offer_id": "off-2"
    }


def test_register_recreates_an_endpoint_deleted_meanwhile():
    client, stubber = stubbed("sns")
    app = "arn:aws:sns:us-east-1:123456789012:app/GCM/micromoments-local-fcm"
    gone, new = app.replace(":app/", ":endpoint/") + "/1", app.replace(":app/", ":endpoint/") + "/2"
    stubber.add_response("create_platform_endpoint", {"EndpointArn": gone})
    stubber.add_client_error("get_endpoint_attributes", "NotFound", "Endpoint does not exist", 404)
    stubber.add_response("create_platform_endpoint", {"EndpointArn": new})
    stubber.add_response(
        "get_endpoint_attributes", {"Attributes": {"Enabled": "true", "CustomUserData": "u", "Token": "t"}}
    )

    assert SnsPushSender(client, {"android": app}).register("android", "t", "u") == new
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["Throttled", "Throttling", "InternalError"])
def test_push_throttling_is_retryable(code):
    client, stubber = stubbed("sns")
    stubber.add_client_error(
        "publish", code, "slow down", http_status_code=500 if code == "InternalError" else 400
    )
    stubber.add_client_error("create_platform_endpoint", code, "slow down", http_status_code=400)
    sender = SnsPushSender(client, {"ios": "arn:aws:sns:us-east-1:123456789012:app/APNS/x"})

    with pytest.raises(RetryableError):
        sender.send(push("arn:aws:sns:us-east-1:123456789012:endpoint/APNS/x/1"))
    with pytest.raises(RetryableError):
        sender.register("ios", "token", "user:alice")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("InvalidParameter", "invalid_parameter"),
        ("ParameterValueInvalid", "invalid_parameter"),
        ("NotFound", "endpoint_not_found"),
        ("PlatformApplicationDisabled", "platform_application_disabled"),
    ],
)
def test_push_refusals_are_delivery_rejected(code, reason):
    client, stubber = stubbed("sns")
    stubber.add_client_error("publish", code, "no", http_status_code=400)

    with pytest.raises(DeliveryRejected) as refused:
        SnsPushSender(client, {}).send(push("arn:aws:sns:us-east-1:123456789012:endpoint/APNS/x/1"))

    assert refused.value.reason == reason
    assert not isinstance(refused.value, EndpointDisabled)


# -- SMS (SNS) -----------------------------------------------------------------------------
def test_the_opt_out_check_asks_sns(aws):
    sender = aws.sms_sender()

    assert sender.opted_out(OPTED_OUT) is True
    assert sender.opted_out(PHONE) is False


def test_an_sms_is_sent_and_cut_to_160_characters(aws):
    text = "Coffee 20% off at Store 1 for 30 minutes. " * 5

    message_id = aws.sms_sender().send(SmsMessage(phone=PHONE, text=text, offer_id="off-3"))

    [sent] = outbox.sent_in_process()["sms"]
    assert (sent["message_id"], sent["recipient"], sent["body"]) == (message_id, PHONE, text[:160])


@pytest.mark.parametrize(
    ("sender_id", "price", "expected"),
    [
        ("MicroMoment", 0.5, {"AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "MicroMoment"}}),
        (None, 0.00645, {}),
    ],
)
def test_the_sms_request_carries_type_max_price_and_sender_id(sender_id, price, expected):
    client, stubber = stubbed("sns")
    attributes = {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.MaxPrice": {"DataType": "Number", "StringValue": str(price)},
        **expected,
    }
    stubber.add_response(
        "publish",
        {"MessageId": "sms-1"},
        expected_params={"PhoneNumber": PHONE, "Message": "hi", "MessageAttributes": attributes},
    )

    assert (
        SnsSmsSender(client, sender_id, price, "Transactional").send(SmsMessage(PHONE, "hi", "off-3"))
        == "sms-1"
    )
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "phone",
    [
        "5555550123",
        "+0123456789",
        "+1 555 555 0123",
        "+1555555012345678",
        "tel:+15555550123",
        f"{PHONE}\n",
        "+1555",
    ],
)
def test_a_number_that_is_not_e164_is_refused(phone):
    client, _nothing_stubbed = stubbed("sns")
    sender = SnsSmsSender(client, None, 0.5, "Promotional")

    for attempt in (lambda: sender.opted_out(phone), lambda: sender.send(SmsMessage(phone, "hi", "off-3"))):
        with pytest.raises(DeliveryRejected) as refused:
            attempt()
        assert refused.value.reason == "invalid_phone"


@pytest.mark.parametrize("sender_id", ["", "TooLongSender1", "12345", "Micro Moment"])
def test_a_bad_sender_id_is_a_configuration_error(sender_id):
    client = boto3.client("sns", region_name=REGION)
    if not sender_id:
        SnsSmsSender(client, sender_id or None, 0.5, "Promotional")  # no sender id is fine
        return
    with pytest.raises(ValueError):
        SnsSmsSender(client, sender_id, 0.5, "Promotional")


@pytest.mark.parametrize("code", ["Throttled", "Throttling"])
def test_sms_throttling_is_retryable(code):
    client, stubber = stubbed("sns")
    stubber.add_client_error("check_if_phone_number_is_opted_out", code, "slow down", http_status_code=400)
    stubber.add_client_error("publish", code, "slow down", http_status_code=400)
    sender = SnsSmsSender(client, None, 0.5, "Promotional")

    with pytest.raises(RetryableError):
        sender.opted_out(PHONE)
    with pytest.raises(RetryableError):
        sender.send(SmsMessage(PHONE, "hi", "off-3"))


def test_an_sms_refused_by_sns_is_delivery_rejected():
    client, stubber = stubbed("sns")
    stubber.add_client_error("publish", "InvalidParameter", "Invalid parameter: PhoneNumber", 400)

    with pytest.raises(DeliveryRejected) as refused:
        SnsSmsSender(client, None, 0.5, "Promotional").send(SmsMessage(PHONE, "hi", "off-3"))

    assert refused.value.reason == "invalid_parameter"


# -- devstack: platform applications and the outbox -------------------------------------------
def test_platform_apps_are_created_once(aws):
    again = ensure_platform_apps(aws.sns)

    assert again == aws.apps
    assert set(again) == {"ios", "android"}
    assert ":app/APNS_SANDBOX/micromoments-local-apns" in again["ios"]
    assert ":app/GCM/micromoments-local-fcm" in again["android"]
    assert len(aws.sns.list_platform_applications()["PlatformApplications"]) == 2


def send_one_of_each(sesv2: Any, sns: Any) -> dict[str, str]:
    apps = ensure_platform_apps(sns)
    push_sender = SnsPushSender(sns, apps)
    endpoint = push_sender.register("android", "fcm-token-outbox", "user:alice")
    return {
        "email": SesEmailSender(sesv2, SENDER, None).send(email()),
        "push": push_sender.send(push(endpoint, platform="android")),
        "sms": SnsSmsSender(sns, "MicroMoment", 0.5, "Promotional").send(
            SmsMessage(PHONE, "Coffee?", "off-3")
        ),
        "endpoint": endpoint,
    }


def check_outbox(sent: outbox.Outbox, ids: dict[str, str]) -> None:
    [mail], [note], [sms] = sent["email"], sent["push"], sent["sms"]
    assert (mail["message_id"], mail["recipient"], mail["subject"]) == (
        ids["email"],
        "alice@example.com",
        email().subject,
    )
    assert mail["headers"]["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert (note["message_id"], note["endpoint"], note["platform"]) == (ids["push"], ids["endpoint"], "GCM")
    assert (note["title"], note["body"], note["offer_id"]) == (
        "You're near Store 1",
        "Coffee 20% off for the next 30 minutes",
        "off-2",
    )
    assert (sms["message_id"], sms["recipient"], sms["body"]) == (ids["sms"], PHONE, "Coffee?")


def test_the_in_process_outbox_sees_one_of_each(aws):
    ids = send_one_of_each(aws.sesv2, aws.sns)

    check_outbox(outbox.sent_in_process(), ids)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        outbox.reset(url)  # the server shares moto's in-process state: start clean
        yield url
    finally:
        outbox.reset(url)
        server.stop()


def test_the_outbox_reads_a_moto_server_and_reset_empties_it(moto_server):
    sesv2 = boto3.client("sesv2", region_name=REGION, endpoint_url=moto_server)
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_server)
    sesv2.create_email_identity(EmailIdentity=SENDER)
    before = outbox.sent_messages(moto_server)

    ids = send_one_of_each(sesv2, sns)

    check_outbox(outbox.sent_messages(moto_server), ids)
    check_outbox(outbox.sent_since(moto_server, before), ids)
    assert outbox.sent_since(moto_server, outbox.sent_messages(moto_server)) == {
        "email": [],
        "push": [],
        "sms": [],
    }
    outbox.reset(moto_server)
    assert outbox.sent_messages(moto_server) == {"email": [], "push": [], "sms": []}
