from datetime import UTC, datetime


def test_geofence_event_reaches_profile(harness):
    now = datetime.now(UTC).isoformat()
    response = harness.post(
        "/v1/track",
        {
            "userId": "u1",
            "event": "Geofence Entered",
            "messageId": "m-1",
            "timestamp": now,
            "properties": {"store_id": "store-1"},
        },
    )
    assert response.status_code == 200, response.body
    assert harness.pump.drain() == 1
    profile = harness.item("USER#u1", "PROFILE")
    assert profile["recent_stores"][0]["store_id"] == "store-1"


def test_the_local_resources_follow_the_template_where_moto_cloudformation_does_not(harness):
    ttl = harness.dynamodb.describe_time_to_live(TableName=harness.outputs["TableName"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    assert harness.outputs["EmailConfigurationSetName"] == "micromoments-local"
