"""PURE geofencing and watch-time: geometry, geohash cells, the fence index, the per-device
enter/exit/dwell state machine with plausibility checks, and video watch-time milestones.

Never imports boto3, botocore or chalice (tests/unit/test_layers.py enforces it).
"""
