"""domain/profile.py: how identify calls and moments change a shopper's profile, and merges."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import profile as profiles
from chalicelib.domain.clock import iso
from chalicelib.domain.profile import RECENT_LIMIT, Profile, Subject
from tests.unit.builders import HALF_LIFE, NOW, event, identify, profile


def moment(p: Profile, evt, store_id: str | None = None) -> Profile:
    assert evt.moment is not None
    return profiles.apply_moment(p, evt, evt.moment, HALF_LIFE, store_id)


def viewed(product_id: str, at, message_id: str | None = None, category: str | None = None):
    props = {"product_id": product_id, **({"category": category} if category else {})}
    return event("Product Viewed", at=at, message_id=message_id or f"m-{product_id}-{at}", properties=props)


# --- identify --------------------------------------------------------------------------------


def test_given_an_identify_then_traits_and_consents_are_recorded_with_their_time():
    p = profiles.apply_identify(
        profile(),
        identify(
            traits={"email": "ada@example.com", "timezone": "Europe/London", "consents": {"email": True}}
        ),
    )

    assert p.traits == {"email": "ada@example.com", "timezone": "Europe/London"}
    assert p.traits_at == {"email": iso(NOW), "timezone": iso(NOW)}
    assert p.consents == {"email": {"granted": True, "at": iso(NOW), "message_id": "m-id-1"}}
    assert p.has_consent("email") and not p.has_consent("sms")


def test_given_a_newer_identify_applied_first_then_an_older_one_does_not_overwrite_its_traits():
    newer = identify(at=NOW, message_id="new", traits={"email": "new@example.com"})
    older = identify(at=NOW - timedelta(hours=1), message_id="old", traits={"email": "old@example.com"})

    p = profiles.apply_identify(profiles.apply_identify(profile(), newer), older)

    assert p.traits == {"email": "new@example.com"}
    assert p.traits_at == {"email": iso(NOW)}


def test_given_a_newer_consent_applied_first_then_an_older_one_does_not_overwrite_it_per_channel():
    newer = identify(at=NOW, message_id="new", traits={"consents": {"email": False}})
    older = identify(
        at=NOW - timedelta(hours=1), message_id="old", traits={"consents": {"email": True, "sms": True}}
    )

    p = profiles.apply_identify(profiles.apply_identify(profile(), newer), older)

    assert p.consents["email"] == {"granted": False, "at": iso(NOW), "message_id": "new"}
    assert p.consents["sms"]["granted"] is True  # nothing newer said otherwise about sms


def test_given_identifies_out_of_order_then_a_trait_only_the_older_one_set_is_kept():
    newer = identify(at=NOW, message_id="new", traits={"email": "ada@example.com"})
    older = identify(at=NOW - timedelta(hours=1), message_id="old", traits={"phone": "+447700900123"})

    in_order = profiles.apply_identify(profiles.apply_identify(profile(), older), newer)
    out_of_order = profiles.apply_identify(profiles.apply_identify(profile(), newer), older)

    assert in_order.traits == {"email": "ada@example.com", "phone": "+447700900123"}
    assert out_of_order.traits == in_order.traits


# --- moments ----------------------------------------------------------------------------------


def test_given_more_product_views_than_the_limit_then_recent_products_keep_the_newest_first():
    p = profile()
    for i in range(RECENT_LIMIT + 2):
        p = moment(p, viewed(f"p{i}", NOW - timedelta(minutes=20 - i)))

    assert [r["product_id"] for r in p.recent_products] == [f"p{i}" for i in range(11, 1, -1)]
    assert len(p.recent_products) == RECENT_LIMIT == 10
    assert p.moment_counts == {"product_viewed": 12}


def test_given_a_product_viewed_again_then_it_moves_to_the_front_without_a_duplicate():
    p = moment(
        moment(profile(), viewed("p1", NOW - timedelta(minutes=2))), viewed("p2", NOW - timedelta(minutes=1))
    )

    p = moment(p, viewed("p1", NOW))

    assert p.recent_products == [
        {"product_id": "p1", "at": iso(NOW)},
        {"product_id": "p2", "at": iso(NOW - timedelta(minutes=1))},
    ]


def test_given_an_older_view_of_the_same_product_arriving_late_then_the_newer_view_is_kept():
    p = moment(profile(), viewed("p1", NOW))

    p = moment(p, viewed("p1", NOW - timedelta(hours=3)))

    assert p.recent_products == [{"product_id": "p1", "at": iso(NOW)}]


def test_given_an_order_then_each_product_and_category_gains_affinity_and_is_recent():
    order = event(
        "Order Completed",
        properties={
            "order_id": "o1",
            "products": [
                {"product_id": "p1", "category": "shoes"},
                {"product_id": "p2", "category": "hats"},
                {"category": "no-id"},
                "not-a-product",
            ],
        },
    )

    p = moment(profile(), order)

    assert p.products == {"p1": {"score": 3.0, "at": iso(NOW)}, "p2": {"score": 3.0, "at": iso(NOW)}}
    assert p.categories == {
        "shoes": {"score": 3.0, "at": iso(NOW)},
        "hats": {"score": 3.0, "at": iso(NOW)},
        "no-id": {"score": 3.0, "at": iso(NOW)},
    }
    assert {r["product_id"] for r in p.recent_products} == {"p1", "p2"}
    assert p.last_moments["buy"] == {"type": "order_completed", "at": iso(NOW), "message_id": "m-1"}


@pytest.mark.parametrize(
    ("name", "moment_type"),
    [("Geofence Entered", "geofence_entered"), ("Geofence Dwelled", "geofence_dwelled")],
)
def test_given_a_geofence_entry_with_a_store_then_it_is_a_store_visit(name, moment_type):
    p = moment(profile(), event(name, properties={"store_id": "s1"}), store_id="s1")

    assert p.recent_stores == [{"store_id": "s1", "at": iso(NOW), "moment": moment_type}]
    assert p.last_moments["go"]["store_id"] == "s1"


@pytest.mark.parametrize(
    ("name", "props"),
    [("Geofence Exited", {"store_id": "s1"}), ("Product Viewed", {"product_id": "p1", "store_id": "s1"})],
)
def test_given_a_moment_that_is_not_an_entry_then_it_is_not_a_store_visit(name, props):
    assert moment(profile(), event(name, properties=props), store_id="s1").recent_stores == []


def test_given_more_store_visits_than_the_limit_then_the_newest_ten_are_kept():
    p = profile()
    for i in range(12):
        p = moment(
            p,
            event(
                "Geofence Entered",
                message_id=f"m{i}",
                at=NOW - timedelta(minutes=12 - i),
                properties={"store_id": f"s{i}"},
            ),
            store_id=f"s{i}",
        )

    assert [s["store_id"] for s in p.recent_stores] == [f"s{i}" for i in range(11, 1, -1)]


def test_given_an_older_moment_then_the_last_moment_of_its_intent_stays_the_newer_one():
    p = moment(profile(), event("Geofence Entered", message_id="new", properties={"store_id": "s2"}), "s2")

    p = moment(
        p,
        event(
            "Geofence Dwelled", message_id="old", at=NOW - timedelta(hours=1), properties={"store_id": "s1"}
        ),
        "s1",
    )

    assert p.last_moments["go"]["message_id"] == "new"
    assert p.moment_counts == {"geofence_entered": 1, "geofence_dwelled": 1}


def test_given_events_then_first_and_last_seen_and_anonymous_ids_are_tracked():
    p = profiles.touch(profile(), event(at=NOW, anonymous_id="a-1"))
    p = profiles.touch(p, event(at=NOW - timedelta(hours=2), anonymous_id="a-2"))
    p = profiles.touch(p, event(at=NOW - timedelta(hours=1), anonymous_id="a-1"))

    assert (p.first_seen, p.last_seen) == (iso(NOW - timedelta(hours=2)), iso(NOW))
    assert p.anonymous_ids == ["a-1", "a-2"]


# --- merge_anonymous --------------------------------------------------------------------------


def test_given_an_anonymous_history_when_merged_then_affinities_add_up_with_decay_and_counts_add():
    user = profile(
        Subject.user("u1"),
        products={"p1": {"score": 2.0, "at": iso(NOW)}},
        moment_counts={"product_viewed": 1},
        first_seen=iso(NOW - timedelta(hours=1)),
        last_seen=iso(NOW),
    )
    anon = profile(
        Subject.anon("a-1"),
        products={
            "p1": {"score": 2.0, "at": iso(NOW - HALF_LIFE)},
            "p9": {"score": 1.0, "at": iso(NOW - HALF_LIFE)},
        },
        categories={"shoes": {"score": 1.5, "at": iso(NOW)}},
        moment_counts={"product_viewed": 2, "qr_scanned": 1},
        first_seen=iso(NOW - timedelta(days=3)),
        last_seen=iso(NOW - timedelta(days=1)),
    )

    merged = profiles.merge_anonymous(user, anon, HALF_LIFE)

    assert merged.products["p1"] == {"score": pytest.approx(3.0), "at": iso(NOW)}
    assert merged.products["p9"] == anon.products["p9"]
    assert merged.categories == anon.categories
    assert merged.moment_counts == {"product_viewed": 3, "qr_scanned": 1}
    assert (merged.first_seen, merged.last_seen) == (iso(NOW - timedelta(days=3)), iso(NOW))
    assert merged.anonymous_ids == ["a-1"]
    assert merged.subject == Subject.user("u1")


def test_given_both_profiles_have_traits_when_merged_then_the_users_win_and_the_rest_is_kept():
    user = profile(traits={"email": "user@example.com"})
    anon = profile(Subject.anon("a-1"), traits={"email": "anon@example.com", "phone": "+447700900123"})

    merged = profiles.merge_anonymous(user, anon, HALF_LIFE)

    assert merged.traits == {"email": "user@example.com", "phone": "+447700900123"}


def test_given_both_have_a_last_moment_of_an_intent_when_merged_then_the_newer_is_kept():
    user = profile(
        last_moments={
            "go": {"type": "geofence_entered", "at": iso(NOW - timedelta(hours=1))},
            "know": {"type": "qr_scanned", "at": iso(NOW)},
        }
    )
    anon = profile(
        Subject.anon("a-1"),
        last_moments={
            "go": {"type": "geofence_dwelled", "at": iso(NOW)},
            "know": {"type": "product_viewed", "at": iso(NOW - timedelta(hours=1))},
        },
    )

    merged = profiles.merge_anonymous(user, anon, HALF_LIFE)

    assert merged.last_moments["go"]["type"] == "geofence_dwelled"
    assert merged.last_moments["know"]["type"] == "qr_scanned"


def test_given_a_newer_opt_out_on_the_anonymous_profile_when_merged_then_it_is_kept():
    user = profile(
        consents={"email": {"granted": True, "at": iso(NOW - timedelta(days=30)), "message_id": "m1"}}
    )
    anon = profile(
        Subject.anon("a-1"), consents={"email": {"granted": False, "at": iso(NOW), "message_id": "m2"}}
    )

    merged = profiles.merge_anonymous(user, anon, HALF_LIFE)

    assert merged.has_consent("email") is False


def test_given_an_anonymous_profile_when_tombstoned_then_only_the_pointer_to_the_user_remains():
    anon = profile(
        Subject.anon("a-1"), version=3, traits={"phone": "+447700900123"}, moment_counts={"qr_scanned": 1}
    )

    tombstone = profiles.as_merged(anon, "u1")

    assert tombstone == Profile(Subject.anon("a-1"), version=3, merged_into="u1")
