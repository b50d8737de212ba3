"""Pure domain: events, moments, profiles, counters, QR tokens and the ports they need.

Must not import boto3, botocore or chalice (tests/unit/test_layers.py enforces it).
"""
