"""use_cases/redemptions.py: an offer's code redeems it once while valid; an order with the
coupon redeems it; an order without one converts the last valid touch (sent or held out, so
lift can be measured); a redelivered order converts nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.delivery import EndpointDisabled
from chalicelib.domain.errors import NotFound
from chalicelib.domain.profile import Subject
from chalicelib.engine import rules
from chalicelib.use_cases.redemptions import Conversion, RedemptionRefused
from tests.unit.builders import NOW, OfferWorld, campaign


def held_out_user(campaign_id: str, percent: float) -> str:
    return next(f"u{i}" for i in range(1000) if rules.in_holdout(campaign_id, f"user:u{i}", percent))


def world_with_sent_offer(**campaign_changes):
    """A shopper who was sent one offer (valid 60 minutes); returns (world, offer_id, code)."""
    world = OfferWorld([campaign(**campaign_changes)])
    world.shopper()
    outcome = world.deliver(world.geofence("m-1", store_id="s1"))
    assert outcome.status == "sent"
    return world, outcome.offer_id, world.record(outcome.offer_id)["code"]


# --- redeem with the code (one-click purchase, the till) ----------------------------------------


def test_given_a_sent_offer_and_its_code_then_it_is_redeemed():
    world, offer_id, code = world_with_sent_offer()
    world.clock.advance(minutes=5)

    result = world.redemptions.redeem(offer_id, code)

    assert result == {
        "offer_id": offer_id,
        "redeemed_at": "2026-11-23T15:09:05.123+00:00",
        "campaign_id": "coffee",
    }
    record = world.record(offer_id)
    assert record["redeemed_at"] == result["redeemed_at"] and record["conversion_by"] == "api"


def test_given_the_code_typed_in_lower_case_with_spaces_then_it_is_redeemed():
    world, offer_id, code = world_with_sent_offer()

    assert world.redemptions.redeem(offer_id, f"  {code.lower()} ")["offer_id"] == offer_id


def test_given_an_offer_redeemed_once_then_a_second_redemption_is_already_redeemed():
    world, offer_id, code = world_with_sent_offer()
    world.redemptions.redeem(offer_id, code)

    with pytest.raises(RedemptionRefused) as refused:
        world.redemptions.redeem(offer_id, code)

    assert refused.value.reason == "already_redeemed"


def test_given_an_offer_past_its_validity_then_expired():
    world, offer_id, code = world_with_sent_offer(offer={"valid_minutes": 30})
    world.clock.advance(minutes=30, milliseconds=1)

    with pytest.raises(RedemptionRefused) as refused:
        world.redemptions.redeem(offer_id, code)

    assert refused.value.reason == "expired"
    assert "redeemed_at" not in world.record(offer_id)


def test_given_the_last_moment_of_validity_then_it_is_still_redeemed():
    world, offer_id, code = world_with_sent_offer(offer={"valid_minutes": 30})
    world.clock.advance(minutes=30)

    assert world.redemptions.redeem(offer_id, code)["offer_id"] == offer_id


@pytest.mark.parametrize("code", ["WRONGCODE234", "", "x" * 500])
def test_given_a_wrong_code_then_not_found(code):
    world, offer_id, _ = world_with_sent_offer()

    with pytest.raises(NotFound):
        world.redemptions.redeem(offer_id, code)

    assert "redeemed_at" not in world.record(offer_id)


def test_given_another_offers_code_then_not_found():
    world, offer_id, _ = world_with_sent_offer()
    world.shopper("u2")
    other = world.deliver(world.geofence("m-2", user_id="u2", store_id="s1"))
    other_code = world.record(other.offer_id, "u2")["code"]

    with pytest.raises(NotFound):
        world.redemptions.redeem(offer_id, other_code)


def test_given_an_offer_that_failed_to_send_then_not_sent():
    world = OfferWorld([campaign(channels=["push"])])
    world.shopper()
    world.push.fail_with.append(EndpointDisabled("gone"))
    outcome = world.deliver(world.geofence("m-1", store_id="s1"))
    code = world.record(outcome.offer_id)["code"]

    with pytest.raises(RedemptionRefused) as refused:
        world.redemptions.redeem(outcome.offer_id, code)

    assert refused.value.reason == "not_sent"


# --- orders --------------------------------------------------------------------------------------


def test_given_an_order_with_the_coupon_then_that_offer_is_redeemed():
    world, offer_id, code = world_with_sent_offer()
    world.clock.advance(minutes=10)

    conversion = world.deliver(world.order("m-order-1", coupon=code.lower()))

    assert conversion == Conversion(offer_id, "redeemed", "coffee")
    record = world.record(offer_id)
    assert record["redeemed_at"] == "2026-11-23T15:14:05.123+00:00" and record["conversion_by"] == "m-order-1"


def test_given_an_order_with_a_coupon_already_redeemed_at_the_till_then_nothing_more_is_converted():
    world, offer_id, code = world_with_sent_offer()
    world.redemptions.redeem(offer_id, code)

    assert world.deliver(world.order("m-order-1", coupon=code)) is None
    assert world.record(offer_id)["conversion_by"] == "api"


def test_given_an_order_without_a_coupon_then_the_last_valid_touch_is_converted():
    world, first_id, _ = world_with_sent_offer()
    world.clock.advance(hours=3)  # the first offer (valid 60 minutes) has expired
    second = world.deliver(world.geofence("m-2", store_id="s2"))
    world.clock.advance(minutes=5)

    conversion = world.deliver(world.order("m-order-1"))

    assert conversion == Conversion(second.offer_id, "converted", "coffee")
    assert "converted_at" not in world.record(first_id)


def test_given_two_valid_offers_then_the_most_recent_one_gets_the_conversion():
    world = OfferWorld([campaign(offer={"valid_minutes": 600})])
    world.shopper()
    first = world.deliver(world.geofence("m-1", store_id="s1"))
    world.clock.advance(hours=3)
    second = world.deliver(world.geofence("m-2", store_id="s2"))
    world.clock.advance(minutes=5)

    conversion = world.deliver(world.order("m-order-1"))

    assert conversion.offer_id == second.offer_id != first.offer_id
    assert world.record(second.offer_id)["converted_at"] == "2026-11-23T18:09:05.123+00:00"


def test_given_a_shopper_in_the_control_group_then_an_order_converts_the_holdout_record():
    user_id = held_out_user("coffee", 50)
    world = OfferWorld([campaign(holdout_percent=50)])
    world.shopper(user_id)
    held = world.deliver(world.geofence("m-1", user_id=user_id, store_id="s1"))
    assert held.status == "holdout"
    world.clock.advance(minutes=20)

    conversion = world.deliver(world.order("m-order-1", user_id=user_id))

    assert conversion == Conversion(held.offer_id, "converted", "coffee")
    assert world.record(held.offer_id, user_id)["conversion_by"] == "m-order-1"


def test_given_only_expired_offers_then_an_order_converts_nothing():
    world, offer_id, _ = world_with_sent_offer()
    world.clock.advance(minutes=61)

    assert world.deliver(world.order("m-order-1")) is None
    assert "converted_at" not in world.record(offer_id)


def test_given_only_a_suppressed_offer_then_an_order_converts_nothing():
    world = OfferWorld([campaign()])
    world.shopper(consents=())
    world.deliver(world.geofence("m-1", store_id="s1"))

    assert world.deliver(world.order("m-order-1")) is None


def test_given_another_shoppers_coupon_then_it_is_not_redeemed_and_the_own_last_touch_converts():
    world, own_id, _ = world_with_sent_offer()
    world.shopper("u2")
    other = world.deliver(world.geofence("m-2", user_id="u2", store_id="s1"))
    other_code = world.record(other.offer_id, "u2")["code"]

    conversion = world.deliver(world.order("m-order-1", coupon=other_code))

    assert conversion == Conversion(own_id, "converted", "coffee")
    assert "redeemed_at" not in world.record(other.offer_id, "u2")


def test_given_a_redelivered_order_then_it_returns_the_same_conversion_and_converts_no_second_offer():
    world = OfferWorld([campaign(offer={"valid_minutes": 600})])
    world.shopper()
    first = world.deliver(world.geofence("m-1", store_id="s1"))
    world.clock.advance(hours=3)
    second = world.deliver(world.geofence("m-2", store_id="s2"))
    order = world.order("m-order-1")

    conversions = [world.deliver(order) for _ in range(3)]

    assert conversions == [Conversion(second.offer_id, "converted", "coffee")] * 3
    assert "converted_at" not in world.record(first.offer_id)
    assert [r["offer_id"] for r in world.records() if "converted_at" in r] == [second.offer_id]


def test_given_a_redelivered_order_with_a_coupon_then_it_returns_the_same_redemption():
    world, offer_id, code = world_with_sent_offer()
    order = world.order("m-order-1", coupon=code)

    conversions = [world.deliver(order) for _ in range(2)]

    assert conversions == [Conversion(offer_id, "redeemed", "coffee")] * 2


def test_given_an_order_for_an_unknown_shopper_then_nothing_is_converted():
    world, _, _ = world_with_sent_offer()

    assert (
        world.redemptions.on_order(Subject.user("nobody"), world.order("m-order-9", user_id="nobody")) is None
    )


def test_given_an_order_older_than_the_offer_then_the_offer_does_not_get_the_conversion():
    world, offer_id, _ = world_with_sent_offer()

    assert world.deliver(world.order("m-order-1", at=NOW - timedelta(minutes=1))) is None
    assert "converted_at" not in world.record(offer_id)
