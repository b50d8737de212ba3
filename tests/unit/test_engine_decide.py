"""engine/decide.py and engine/index.py: candidates from the index, ranking by priority x
personalisation, the pure guardrails with their reasons, the shopper's time zone, holdout,
and the content each channel gets."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib.domain.clock import iso
from chalicelib.engine import rules
from chalicelib.engine.decide import (
    Policy,
    Reach,
    StoreInfo,
    best_product,
    choose_channel,
    decide,
    render_offer,
    score,
)
from chalicelib.engine.index import CampaignIndex
from chalicelib.engine.rules import MomentFacts
from tests.unit.builders import HALF_LIFE, NOW, campaign, profile

POLICY = Policy()
REACHABLE = Reach(push_endpoints=(("arn:endpoint/1", "ios"),), email="ada@example.com", phone="+15550100")
STORE = StoreInfo("s1", "Soho", "Europe/London")


def consenting(*channels: str, **fields):
    return profile(consents={ch: {"granted": True, "at": iso(NOW)} for ch in channels}, **fields)


def geofence(store_id: str | None = "s1", at: datetime = NOW, timezone: str | None = None) -> MomentFacts:
    return MomentFacts("m-1", "geofence_entered", at, store_id=store_id, timezone=timezone)


def decide_one(
    campaigns,
    shopper=None,
    reach=REACHABLE,
    moment=None,
    store=STORE,
    policy=POLICY,
    now=NOW,
    subject_key="user:u1",
):
    return decide(
        list(campaigns),
        moment or geofence(),
        shopper or consenting("push", "sms", "email"),
        reach,
        store,
        policy,
        now,
        subject_key,
    )


def first_subject(campaign_id: str, percent: float, held: bool, *, not_held_by: tuple[str, ...] = ()) -> str:
    for i in range(1000):
        key = f"user:u{i}"
        if rules.in_holdout(campaign_id, key, percent) is held and not any(
            rules.in_holdout(other, key, percent) for other in not_held_by
        ):
            return key
    raise AssertionError("no such shopper in 1000")


# --- the index ---------------------------------------------------------------------------------


def test_given_store_specific_and_store_agnostic_campaigns_then_a_store_gets_both():
    anywhere = campaign(id="anywhere")
    soho = campaign(id="soho", trigger={"store_ids": ["s1"]})
    two_stores = campaign(id="two", trigger={"store_ids": ["s2", "s1"]})
    brooklyn = campaign(id="brooklyn", trigger={"store_ids": ["s2"]})
    qr = campaign(id="qr", trigger={"moment": "qr_scanned"})
    paused = campaign(id="paused", status="paused")

    index = CampaignIndex([anywhere, soho, two_stores, brooklyn, qr, paused])

    assert {c.id for c in index.candidates("geofence_entered", "s1")} == {"anywhere", "soho", "two"}
    assert {c.id for c in index.candidates("geofence_entered", "s2")} == {"anywhere", "two", "brooklyn"}
    assert {c.id for c in index.candidates("geofence_entered", "s9")} == {"anywhere"}
    assert {c.id for c in index.candidates("geofence_entered", None)} == {"anywhere"}
    assert {c.id for c in index.candidates("qr_scanned", "s1")} == {"qr"}
    assert index.candidates("video_completed", "s1") == []
    assert index.size == 5


def test_campaigns_that_name_no_store_are_listed_under_their_video_product_or_category():
    video = campaign(id="video", trigger={"moment": "video_milestone", "video_ids": ["v1", "v2"]})
    any_video = campaign(id="any-video", trigger={"moment": "video_milestone"})
    product = campaign(
        id="product", trigger={"moment": "product_viewed", "product_ids": ["p1"], "categories": ["c9"]}
    )
    category = campaign(id="category", trigger={"moment": "product_viewed", "categories": ["c1", "c1"]})
    at_store = campaign(
        id="store", trigger={"moment": "product_viewed", "store_ids": ["s1"], "product_ids": ["p2"]}
    )

    index = CampaignIndex([video, any_video, product, category, at_store])

    def ids(*args, **facts):
        found = index.candidates(*args, **facts)
        assert len(found) == len({c.id for c in found})  # never twice
        return {c.id for c in found}

    assert ids("video_milestone", None, video_id="v2") == {"video", "any-video"}
    assert ids("video_milestone", None, video_id="v3") == {"any-video"}
    assert ids("product_viewed", None, product_id="p1", category="c1") == {"product", "category"}
    assert ids("product_viewed", None, product_id="p2", category="c1") == {"category"}
    assert ids("product_viewed", "s1", product_id="p2") == {"store"}
    assert ids("product_viewed", None) == set()


def test_the_index_finds_every_campaign_the_engine_would_find_eligible():
    import random

    rng = random.Random(7)
    stores, products, categories, videos = ["s1", "s2", "s3"], ["p1", "p2", "p3"], ["c1", "c2"], ["v1", "v2"]
    moments = ("geofence_entered", "product_viewed", "qr_scanned", "video_milestone")

    def maybe(values):
        return rng.sample(values, rng.randint(1, len(values))) if rng.random() < 0.4 else []

    campaigns = []
    for i in range(300):
        trigger = {"moment": rng.choice(moments)}
        for name, values in (
            ("store_ids", stores),
            ("product_ids", products),
            ("categories", categories),
            ("video_ids", videos),
        ):
            if chosen := maybe(values):
                trigger[name] = chosen
        campaigns.append(campaign(id=f"c{i}", trigger=trigger))
    index = CampaignIndex(campaigns)
    shopper = profile()
    checked = 0
    for _ in range(400):
        facts = MomentFacts(
            "m-1",
            rng.choice(moments),
            NOW,
            store_id=rng.choice([None, *stores]),
            product_id=rng.choice([None, *products]),
            category=rng.choice([None, *categories]),
            video_id=rng.choice([None, *videos]),
        )
        found = index.candidates(
            facts.moment_type, facts.store_id, facts.product_id, facts.category, facts.video_id
        )
        eligible = {c.id for c in campaigns if rules.eligible(c, facts, shopper, NOW, NOW, HALF_LIFE)}
        assert eligible <= {c.id for c in found}, facts
        assert len(found) == len({c.id for c in found})
        checked += len(eligible)
    assert checked > 400  # the moments did match campaigns


# --- channels and their reasons ----------------------------------------------------------------


def test_given_every_channel_open_then_the_campaigns_order_decides():
    assert choose_channel(("email", "push"), consenting("push", "email"), REACHABLE) == ("email", None)
    assert choose_channel(("push", "email"), consenting("push", "email"), REACHABLE) == ("push", None)
    assert choose_channel(("sms", "push"), consenting("push", "sms"), REACHABLE) == ("sms", None)


def test_given_no_consent_for_the_first_channel_then_the_next_consented_one_is_used():
    assert choose_channel(("push", "sms", "email"), consenting("email"), REACHABLE) == ("email", None)


def test_given_no_consent_at_all_then_no_consent():
    decision = decide_one([campaign()], shopper=consenting())

    assert decision.candidates == [] and decision.suppressed[1] == "no_consent"


def test_given_a_consent_that_was_withdrawn_then_no_consent():
    withdrawn = profile(consents={"push": {"granted": False, "at": iso(NOW)}})

    assert choose_channel(("push",), withdrawn, REACHABLE) == (None, "no_consent")


def test_given_push_consent_but_no_device_then_no_channel():
    decision = decide_one(
        [campaign(channels=["push"])], shopper=consenting("push"), reach=replace(REACHABLE, push_endpoints=())
    )

    assert decision.suppressed[1] == "no_channel"


def test_given_sms_consent_but_no_phone_then_no_channel():
    assert choose_channel(("sms",), consenting("sms"), replace(REACHABLE, phone=None)) == (None, "no_channel")


def test_given_a_suppressed_email_address_then_suppressed():
    decision = decide_one(
        [campaign(channels=["email"])],
        shopper=consenting("email"),
        reach=replace(REACHABLE, email_suppressed=True),
    )

    assert decision.suppressed[1] == "suppressed"


def test_given_a_suppressed_email_and_a_push_without_consent_then_the_more_telling_reason_wins():
    reach = replace(REACHABLE, email_suppressed=True)

    assert choose_channel(("push", "email"), consenting("email"), reach) == (None, "suppressed")
    assert choose_channel(("push", "sms"), consenting("push"), replace(reach, push_endpoints=())) == (
        None,
        "no_channel",
    )


def test_given_an_unsubscribed_shopper_then_unsubscribed_whatever_the_consents():
    decision = decide_one([campaign()], shopper=consenting("push", "sms", "email", unsubscribed_at=iso(NOW)))

    assert decision.candidates == [] and decision.suppressed[1] == "unsubscribed"


def test_given_a_reachable_shopper_then_the_candidate_carries_its_channel():
    decision = decide_one([campaign(channels=["sms", "push"])])

    assert [(c.campaign.id, c.channel) for c in decision.candidates] == [("coffee", "sms")]
    assert decision.suppressed is None and decision.holdout is None


# --- quiet hours and freshness -----------------------------------------------------------------


def test_given_22_30_local_then_quiet_hours():
    now = datetime(2026, 11, 23, 22, 30, tzinfo=rules.zone("Europe/London"))

    decision = decide_one([campaign()], moment=geofence(at=now), now=now)

    assert decision.suppressed[1] == "quiet_hours"


def test_given_quiet_hours_in_utc_but_day_in_the_shoppers_zone_then_it_is_not_quiet():
    now = datetime(2026, 11, 23, 22, 30, tzinfo=rules.zone("UTC"))  # 17:30 in New York

    decision = decide_one(
        [campaign()],
        shopper=consenting("push", traits={"timezone": "America/New_York"}),
        moment=geofence(at=now),
        now=now,
    )

    assert [c.campaign.id for c in decision.candidates] == ["coffee"]


def test_given_a_moment_older_than_the_campaigns_freshness_then_stale():
    decision = decide_one([campaign()], moment=geofence(at=NOW - timedelta(minutes=11)))

    assert decision.suppressed[1] == "stale"


def test_given_a_stale_top_campaign_then_a_fresher_one_is_still_a_candidate():
    short = campaign(id="short", priority=90, freshness_minutes=5)
    long = campaign(id="long", priority=10, freshness_minutes=60)

    decision = decide_one([short, long], moment=geofence(at=NOW - timedelta(minutes=6)))

    assert [c.campaign.id for c in decision.candidates] == ["long"]
    assert decision.considered[0] == {"campaign": "short", "reason": "stale", "channel": None}


def test_given_no_eligible_campaign_then_nothing_is_recorded():
    decision = decide_one([campaign(trigger={"store_ids": ["s2"]})])

    assert decision.nothing_eligible


# --- time zone fallback --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_tz", "profile_tz", "store_tz", "expected"),
    [
        ("Asia/Tokyo", "America/New_York", "Europe/London", "Asia/Tokyo"),
        (None, "America/New_York", "Europe/London", "America/New_York"),
        ("Not/AZone", "America/New_York", "Europe/London", "America/New_York"),
        (None, None, "Europe/London", "Europe/London"),
        (None, "garbage", None, "Australia/Sydney"),
        (None, None, None, "Australia/Sydney"),
    ],
)
def test_given_zones_from_several_sources_then_event_then_profile_then_store_then_default(
    event_tz, profile_tz, store_tz, expected
):
    shopper = consenting("push", traits={"timezone": profile_tz} if profile_tz else {})
    store = StoreInfo("s1", "Soho", store_tz)

    decision = decide_one(
        [campaign()],
        shopper=shopper,
        moment=geofence(timezone=event_tz),
        store=store,
        policy=replace(POLICY, default_timezone="Australia/Sydney"),
    )

    assert decision.timezone == expected
    assert decision.local_now == NOW.astimezone(rules.zone(expected))


def test_given_no_store_then_the_policy_default_zone_is_used():
    decision = decide_one(
        [campaign()],
        store=None,
        moment=geofence(store_id=None),
        policy=replace(POLICY, default_timezone="Asia/Tokyo"),
    )

    assert decision.timezone == "Asia/Tokyo"


# --- ranking -------------------------------------------------------------------------------------


def latte_campaign(campaign_id: str, priority: int):
    return campaign(
        id=campaign_id,
        priority=priority,
        offer={"products": [{"product_id": "latte", "name": "Latte", "category": "coffee"}]},
    )


def fan_of_coffee(interest: float):
    return consenting("push", categories={"coffee": {"score": interest, "at": iso(NOW)}})


def test_given_no_personal_interest_then_the_higher_priority_ranks_first():
    decision = decide_one(
        [latte_campaign("low", 40), campaign(id="high", priority=50)], shopper=fan_of_coffee(0)
    )

    assert [c.campaign.id for c in decision.candidates] == ["high", "low"]


def test_given_enough_affinity_then_a_lower_priority_campaign_ranks_first_as_the_formula_says():
    # 40 x (1 + 5/(5+5) + 0.5) = 80 beats 50 x (1 + 0 + 0.5) = 75
    decision = decide_one(
        [latte_campaign("low", 40), campaign(id="high", priority=50)], shopper=fan_of_coffee(5)
    )

    assert [(c.campaign.id, round(c.score, 6)) for c in decision.candidates] == [
        ("low", 80.0),
        ("high", 75.0),
    ]


def test_given_too_little_affinity_then_the_lower_priority_campaign_stays_second():
    # 40 x (1 + 2/7 + 0.5) = 71.43 < 75
    decision = decide_one(
        [latte_campaign("low", 40), campaign(id="high", priority=50)], shopper=fan_of_coffee(2)
    )

    assert [c.campaign.id for c in decision.candidates] == ["high", "low"]
    assert decision.candidates[1].score == pytest.approx(40 * (1 + 2 / 7 + 0.5))


def test_given_any_affinity_then_personalisation_at_most_lifts_a_campaign_below_double_its_base():
    # personalisation saturates below 1, so priority 20 can never beat priority 50 on the same moment
    decision = decide_one(
        [latte_campaign("low", 20), campaign(id="high", priority=50)], shopper=fan_of_coffee(1_000_000)
    )

    assert [c.campaign.id for c in decision.candidates] == ["high", "low"]


def test_given_an_older_moment_then_recency_lowers_the_score_linearly():
    offer = campaign(priority=50, freshness_minutes=10)

    fresh = score(offer, geofence(at=NOW), consenting(), NOW, HALF_LIFE)
    half = score(offer, geofence(at=NOW - timedelta(minutes=5)), consenting(), NOW, HALF_LIFE)
    old = score(offer, geofence(at=NOW - timedelta(minutes=10)), consenting(), NOW, HALF_LIFE)

    assert (fresh, half, old) == (75.0, 62.5, 50.0)


def test_given_equal_scores_then_ties_break_by_campaign_id():
    decision = decide_one([campaign(id="b"), campaign(id="a"), campaign(id="c")])

    assert [c.campaign.id for c in decision.candidates] == ["a", "b", "c"]


# --- holdout -------------------------------------------------------------------------------------


def test_given_a_shopper_in_the_top_campaigns_holdout_then_no_candidates_and_the_holdout_campaign():
    offer = campaign(holdout_percent=50)
    held = first_subject("coffee", 50, True)

    decision = decide_one([offer], subject_key=held)

    assert decision.candidates == [] and decision.holdout == offer and decision.suppressed is None
    assert decision.considered == [{"campaign": "coffee", "reason": "holdout"}]


def test_given_a_shopper_outside_the_holdout_then_the_campaign_is_a_candidate():
    decision = decide_one([campaign(holdout_percent=50)], subject_key=first_subject("coffee", 50, False))

    assert [c.campaign.id for c in decision.candidates] == ["coffee"] and decision.holdout is None


def test_given_the_same_shopper_then_the_holdout_decision_is_the_same_every_time():
    offer = campaign(holdout_percent=30)

    outcomes = {decide_one([offer], subject_key="user:u42").holdout is not None for _ in range(5)}

    assert len(outcomes) == 1


def test_given_a_shopper_in_the_second_campaigns_holdout_then_it_is_a_held_out_candidate():
    top = campaign(id="coffee", priority=90)
    second = campaign(id="tea", priority=10, holdout_percent=50)
    held = first_subject("tea", 50, True)

    decision = decide_one([top, second], subject_key=held)

    # kept in rank order so the pipeline records "holdout" for it if coffee cannot go
    assert [(c.campaign.id, c.holdout) for c in decision.candidates] == [("coffee", False), ("tea", True)]


# --- content -------------------------------------------------------------------------------------

VALUES = {
    "first_name": "Ada",
    "store_name": "Soho",
    "code": "ABCD2345EFGH",
    "deep_link": "https://x.example/o",
    "unsubscribe_url": "https://mm.example.com/v1/unsubscribe?token=t",
    "discount": "20%",
}


def test_given_no_channel_templates_then_push_uses_the_rendered_title_and_body():
    rendered = render_offer(campaign(), "push", VALUES)

    assert (rendered.title, rendered.text) == ("Hi Ada", "Ada, coffee 20% off at Soho")


def test_given_a_long_sms_then_it_is_cut_to_160_on_a_word_boundary():
    offer = campaign(offer={"body": "{first_name}, " + "great coffee " * 30})

    rendered = render_offer(offer, "sms", VALUES)

    assert (
        len(rendered.text) <= 160 and rendered.text.endswith("…") and rendered.text.startswith("Ada, great")
    )


def test_given_no_email_templates_then_the_default_email_escapes_the_body_and_links_the_unsubscribe():
    offer = campaign(offer={"body": "Hi {first_name}"})

    rendered = render_offer(offer, "email", {**VALUES, "first_name": "<b>Ada</b>"})

    assert "&lt;b&gt;Ada&lt;/b&gt;" in rendered.html and "<b>Ada</b>" not in rendered.html
    assert 'href="https://mm.example.com/v1/unsubscribe?token=t"' in rendered.html
    assert "Unsubscribe: https://mm.example.com/v1/unsubscribe?token=t" in rendered.text
    assert rendered.subject == "Hi <b>Ada</b>"


def test_given_an_email_html_template_then_values_in_it_are_escaped():
    offer = campaign(offer={"email": {"html": "<h1>{first_name}</h1><p>{code}</p>"}})

    rendered = render_offer(offer, "email", {**VALUES, "first_name": "<script>"})

    assert rendered.html == "<h1>&lt;script&gt;</h1><p>ABCD2345EFGH</p>"


def products_campaign():
    return campaign(
        offer={
            "products": [
                {"product_id": "mug", "name": "Mug", "category": "gear"},
                {"product_id": "latte", "name": "Latte", "category": "coffee"},
            ]
        }
    )


def test_given_the_moments_product_in_the_campaign_then_it_is_the_best_product():
    moment = replace(geofence(), product_id="latte")

    assert best_product(products_campaign(), moment, consenting(), NOW, HALF_LIFE).name == "Latte"


def test_given_an_affinity_then_the_best_product_is_the_one_the_shopper_likes_most():
    assert best_product(products_campaign(), geofence(), fan_of_coffee(3), NOW, HALF_LIFE).name == "Latte"


def test_given_no_signal_then_the_best_product_is_the_first_listed():
    assert best_product(products_campaign(), geofence(), consenting(), NOW, HALF_LIFE).name == "Mug"
