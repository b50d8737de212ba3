"""The micromoments command line (``python -m cli``): operator tasks against the local stack.

Not deployed (Chalice packages only ``app.py`` and ``chalicelib/``). Every command goes through
the same use cases the admin API uses (``chalicelib.wiring``), so the rules are the same.
"""
