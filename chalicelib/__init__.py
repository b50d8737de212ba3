"""micromoments: turn a shopper's micro-moment into a timely, capped, measurable offer.

Only ``app.py`` and this package are deployed. Layering (enforced by tests/unit/test_layers.py):
``domain`` (pure) <- ``contracts`` / ``use_cases`` <- ``adapters`` (the only boto3 importer)
<- ``wiring`` (composition root) <- ``app.py``.
"""
