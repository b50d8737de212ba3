"""The local stack (not deployed): moto in server mode, the resources from ``infra/``,
``chalice local`` and a queue pump that feeds the worker the way Lambda's SQS trigger does.
Run ``python -m devstack --help``."""
