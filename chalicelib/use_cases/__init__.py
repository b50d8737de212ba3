"""Use cases: orchestration over ports. No boto3 and no chalice here; adapters come in through
constructor arguments, built by ``chalicelib.wiring``."""
