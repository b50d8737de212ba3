"""observability.record_batch: one log line per worker batch, and one per event that was
rejected or decided an offer (the log bytes are a real share of a moment's cost)."""

from __future__ import annotations

from types import SimpleNamespace

from chalicelib import observability
from chalicelib.use_cases.process_events import BatchReport, Outcome, Processed

FIELDS = ("message_id", "processed", "duplicates", "failed", "moments", "offer", "rejected")


def test_a_batch_logs_one_line_and_a_line_per_rejected_event_or_offer(caplog):
    sent = SimpleNamespace(status="sent", reason=None)
    report = BatchReport(
        processed=[
            Processed(Outcome.PROCESSED, "m-1", "geofence_entered"),
            Processed(Outcome.PROCESSED, "m-2", None),
            Processed(Outcome.PROCESSED, "m-3", "geofence_entered", follow_up=sent),
            Processed(Outcome.PROCESSED, "m-4", "qr_scanned", rejected="invalid_qr_code"),
            Processed(Outcome.DUPLICATE, "m-1", "geofence_entered"),
        ],
        failures={"sqs-9": "unexpected:ValueError"},
    )

    with caplog.at_level("INFO", logger="micromoments"):
        observability.record_batch(report)

    logged = [
        {"message": r.getMessage(), **{k: v for k, v in vars(r).items() if k in FIELDS}}
        for r in caplog.records
        if r.getMessage() in ("batch", "event")
    ]
    assert [(line["message"], line.get("message_id")) for line in logged] == [
        ("batch", None),
        ("event", "m-3"),
        ("event", "m-4"),
    ]
    batch = logged[0]
    assert (batch["processed"], batch["duplicates"], batch["failed"]) == (4, 1, 1)
    assert batch["moments"] == {"geofence_entered": 2}
    assert logged[1]["offer"] == "sent" and logged[2]["rejected"] == "invalid_qr_code"
