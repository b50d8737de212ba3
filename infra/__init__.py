"""Ops tooling for deployed stages: ``python -m infra --help`` (what ``make deploy`` and friends run)."""
