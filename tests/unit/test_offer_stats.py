"""Offer outcome counters (domain/offer_stats.py) over the in-memory twins: a scripted day whose
answers are computed from the script itself, delivered twice (at-least-once), must count
every outcome exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from chalicelib.domain.clock import hour_bucket
from chalicelib.domain.offer_stats import (
    OFFER_STAT_SHARDS,
    OfferStat,
    cohort_counter,
    conversion_stat,
    counter_name,
    decision_stat,
    seen_fields,
    split_name,
    stat_for,
    stat_shard,
)
from chalicelib.domain.offers import offer_id_for, redemption_code
from chalicelib.domain.profile import Subject
from chalicelib.engine import rules
from tests.unit.builders import NOW, OfferWorld, campaign, event

STORES = {"s1": {"name": "Soho", "timezone": "Europe/London"}, "s2": {"name": "Dock", "timezone": "UTC"}}


def test_names_and_keys():
    stat = OfferStat("coffee", "2026112315", None, "qr_scanned", ("sent", "engaged"))
    assert (stat.pk, stat.sk) == (f"STAT#offers#coffee#s{stat_shard(None)}", "2026112315#-")
    # one store's items always share a shard; stores spread over the campaign's shards
    assert {stat_shard(f"store-{i}") for i in range(40)} == set(range(OFFER_STAT_SHARDS))
    assert stat.counts() == {"sent|qr_scanned": 1, "engaged|qr_scanned": 1}
    # store-less offers (video moments) spread over every shard by offer id, same sort key
    videos = [
        OfferStat("coffee", "2026112315", None, "video_completed", ("sent",), offer_id=f"of_{i:024x}")
        for i in range(40)
    ]
    assert {v.pk for v in videos} == {f"STAT#offers#coffee#s{n}" for n in range(OFFER_STAT_SHARDS)}
    assert {v.sk for v in videos} == {"2026112315#-"}
    # with a store, the store decides, whatever the offer
    stored = {OfferStat("c", "2026112315", "s1", None, (), offer_id=f"of_{i:024x}").pk for i in range(9)}
    assert stored == {f"STAT#offers#c#s{stat_shard('s1')}"}
    record = {"campaign_id": "c", "offer_id": "of_" + "7" * 24, "moment": "video_completed", "status": "sent"}
    stat = stat_for(record, NOW, "sent")
    assert stat is not None and stat.shard == stat_shard(None, "of_" + "7" * 24)
    assert split_name("suppressed:quiet_hours|geofence_entered") == (
        "suppressed:quiet_hours",
        "geofence_entered",
    )
    assert counter_name("users:holdout", None) == "users:holdout|-"


def test_a_decision_counts_eligible_its_group_and_its_reason():
    base = {"campaign_id": "c", "store_id": "s1", "moment": "geofence_entered"}
    held = decision_stat({**base, "status": "holdout"}, NOW)
    refused = decision_stat({**base, "status": "suppressed", "reason": "quiet_hours"}, NOW)
    claimed = decision_stat({**base, "status": "claimed"}, NOW)
    assert held is not None and refused is not None and claimed is not None
    assert held.metrics == ("decided", "holdout") and held.group == "holdout" and held.first_decision
    assert refused.metrics == ("decided", "suppressed:quiet_hours") and refused.group == "treatment"
    assert claimed.metrics == ("decided",) and claimed.sk == f"{hour_bucket(NOW)}#s1"
    assert decision_stat({"status": "suppressed"}, NOW) is None  # no campaign, nothing to attribute
    converted = conversion_stat({**base, "status": "holdout"}, NOW, redeemed=False)
    assert (
        converted is not None and converted.metrics == ("converted:holdout",) and converted.first_conversion
    )
    redeemed = conversion_stat({**base, "status": "sent"}, NOW, redeemed=True)
    assert redeemed is not None and redeemed.metrics == ("redeemed", "converted:treatment")
    assert stat_for({**base, "status": "sent"}, NOW, "opened", "engaged") is not None


def held_out(campaign_id: str, n: int, held: bool) -> list[str]:
    found = [f"u{i}" for i in range(500) if rules.in_holdout(campaign_id, f"user:u{i}", 25) == held]
    return found[:n]


def test_a_scripted_day_counts_every_outcome_exactly_once_even_when_everything_is_delivered_twice():
    world = OfferWorld([campaign(holdout_percent=25, caps={"per_user_per_day": 1})], at=NOW, stores=STORES)
    treated, control = held_out("coffee", 4, False), held_out("coffee", 2, True)
    for user in treated + control:
        world.shopper(user)
    script = []
    expected: Counter[str] = Counter()
    users: dict[str, set[str]] = {"treatment": set(), "holdout": set()}
    offers: dict[str, str] = {}
    for i, user in enumerate(treated + control):
        store = "s1" if i % 2 == 0 else "s2"
        enter = world.geofence(f"m-{user}", user_id=user, store_id=store)
        script.append(enter)
        offers[user] = offer_id_for(Subject.user(user), enter.message_id)
        group = "holdout" if user in control else "treatment"
        users[group].add(user)
        expected["decided"] += 1
        expected["holdout" if group == "holdout" else "sent"] += 1
        # a second entry to the other store the same day: the daily cap of 1 stops it
        again = world.geofence(f"m2-{user}", user_id=user, store_id="s2" if store == "s1" else "s1")
        script.append(again)
        expected["decided"] += 1
        expected["holdout" if group == "holdout" else "suppressed:frequency_cap"] += 1
    for evt in script:
        world.clock.advance(seconds=5)
        world.deliver(evt)
    world.clock.advance(minutes=10)  # later, while the offers are valid
    later = world.clock.now()
    followups = []
    # the first two treated shoppers open the offer, the first also clicks it (twice)
    for user in treated[:2]:
        followups.append(
            event(
                "Offer Opened",
                message_id=f"o-{user}",
                at=later,
                user_id=user,
                properties={"offer_id": offers[user]},
            )
        )
        expected["opened"] += 1
        expected["engaged"] += 1
    for n in range(2):
        followups.append(
            event(
                "Offer Clicked",
                message_id=f"c{n}-{treated[0]}",
                at=later,
                user_id=treated[0],
                properties={"offer_id": offers[treated[0]]},
            )
        )
    expected["clicked"] += 1
    # an open of an offer that was never sent (held out) and of one that does not exist
    followups.append(
        event(
            "Offer Opened",
            message_id="o-h",
            at=later,
            user_id=control[0],
            properties={"offer_id": offers[control[0]]},
        )
    )
    followups.append(
        event(
            "Offer Opened",
            message_id="o-x",
            at=later,
            user_id=treated[3],
            properties={"offer_id": "of_" + "0" * 24},
        )
    )
    # orders: the first treated shopper pays with the code, the third and a control shopper without
    code = redemption_code(offers[treated[0]], world.settings.token_signing_key)
    followups.append(
        event(
            "Order Completed", message_id="ord-1", at=later, user_id=treated[0], properties={"coupon": code}
        )
    )
    followups.append(event("Order Completed", message_id="ord-2", at=later, user_id=treated[2]))
    followups.append(event("Order Completed", message_id="ord-3", at=later, user_id=control[1]))
    expected["redeemed"] += 1
    expected["converted:treatment"] += 2
    expected["converted:holdout"] += 1
    converters = {"treatment": {treated[0], treated[2]}, "holdout": {control[1]}}

    for evt in followups:
        world.deliver(evt)
    for evt in script + followups:  # at-least-once: every message again, in order
        world.deliver(evt)

    totals: Counter[str] = Counter()
    for name, n in world.ledger.totals("coffee").items():
        totals[split_name(name)[0]] += n
    expected["users:treatment"] = len(users["treatment"])
    expected["users:holdout"] = len(users["holdout"])
    expected["converters:treatment"] = len(converters["treatment"])
    expected["converters:holdout"] = len(converters["holdout"])
    assert dict(totals) == dict(expected)
    # per store: every shopper entered both stores once, so each store holds one decision each
    per_store: Counter[str] = Counter()
    for (_pk, sk), counts in world.ledger.stats.items():
        per_store[sk.rsplit("#", 1)[1]] += sum(n for name, n in counts.items() if name.startswith("decided|"))
    assert per_store == {"s1": len(treated + control), "s2": len(treated + control)}


def test_a_second_open_or_a_click_after_an_open_counts_engaged_once():
    world = OfferWorld([campaign()], at=NOW, stores=STORES)
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))
    offer_id = offer_id_for(Subject.user("u1"), "m-1")
    for i, name in enumerate(["Offer Opened", "Offer Opened", "Offer Clicked", "Offer Clicked"]):
        world.clock.advance(minutes=1)
        world.deliver(
            event(name, message_id=f"e-{i}", at=world.clock.now(), properties={"offer_id": offer_id})
        )
    totals = Counter()
    for name, n in world.ledger.totals().items():
        totals[split_name(name)[0]] += n
    assert (totals["opened"], totals["clicked"], totals["engaged"], totals["sent"]) == (1, 1, 1, 1)
    record = world.record(offer_id)
    assert record["engaged_at"] == record["opened_at"] < record["clicked_at"]


def test_counts_land_in_the_hour_they_happened():
    world = OfferWorld([campaign()], at=NOW, stores=STORES)
    world.shopper()
    world.deliver(world.geofence("m-1", store_id="s1"))
    offer_id = offer_id_for(Subject.user("u1"), "m-1")
    later = NOW + timedelta(hours=3)
    world.deliver(event("Offer Opened", message_id="e-1", at=later, properties={"offer_id": offer_id}))
    by_hour = {sk: counts for (_pk, sk), counts in world.ledger.stats.items()}
    assert by_hour[f"{hour_bucket(NOW)}#s1"]["sent|geofence_entered"] == 1
    assert by_hour[f"{hour_bucket(later)}#s1"] == {
        "opened|geofence_entered": 1,
        "engaged|geofence_entered": 1,
    }


# --- lift cohorts: a converter counts where the shopper was first reached ----------------------


def test_a_first_conversion_counts_in_the_bucket_of_the_shoppers_first_decision():
    world = OfferWorld([campaign(holdout_percent=25)], at=NOW, stores=STORES)
    [treated], [control] = held_out("coffee", 1, False), held_out("coffee", 1, True)
    for user in (treated, control):
        world.shopper(user)
        world.deliver(world.geofence(f"m1-{user}", user_id=user, store_id="s1"))
    first = hour_bucket(NOW)
    world.clock.advance(days=1, hours=3)  # a week later in a long campaign: another store, hour
    for user in (treated, control):
        world.deliver(world.geofence(f"m2-{user}", user_id=user, store_id="s2"))
    world.clock.advance(minutes=5)
    later = hour_bucket(world.clock.now())
    for user in (treated, control):  # orders: last touch is the second offer (store s2)
        world.deliver(world.order(f"ord-{user}", user_id=user))
        world.deliver(world.order(f"ord-{user}", user_id=user))  # redelivered

    by_item = {sk: counts for (_pk, sk), counts in world.ledger.stats.items()}
    assert by_item[f"{first}#s1"]["users:treatment|geofence_entered"] == 1
    assert by_item[f"{first}#s1"]["converters:treatment|geofence_entered"] == 1
    assert by_item[f"{first}#s1"]["converters:holdout|geofence_entered"] == 1
    assert by_item[f"{later}#s2"]["converted:treatment|geofence_entered"] == 1  # the offer's own hour
    assert not any(n.startswith(("users:", "converters:")) for n in by_item[f"{later}#s2"])
    seen = world.ledger.seen[(Subject.user(treated), "coffee")]
    assert (seen["first_hour"], seen["first_store"], seen["first_moment"]) == (
        first,
        "s1",
        "geofence_entered",
    )
    assert seen["first_shard"] == stat_shard("s1") and seen["converted_at"] == later


def test_cohort_counter_reads_the_first_decision_and_falls_back_for_old_seen_items():
    decision = decision_stat({"campaign_id": "c", "store_id": "s1", "moment": "qr_scanned"}, NOW)
    assert decision is not None
    record = {"campaign_id": "c", "store_id": "s2", "moment": "geofence_entered", "status": "holdout"}
    conversion = conversion_stat(record, NOW + timedelta(days=3), redeemed=False)
    assert conversion is not None

    assert cohort_counter(conversion, seen_fields(decision)) == (
        decision.pk,
        decision.sk,
        "converters:treatment|qr_scanned",  # the group SEEN remembers (the same shopper's)
    )
    # a SEEN item from before cohorts (group only), or none: the conversion's own bucket
    for old in ({"group": "holdout"}, None):
        assert cohort_counter(conversion, old) == (
            conversion.pk,
            conversion.sk,
            "converters:holdout|geofence_entered",
        )
