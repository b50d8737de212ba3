"""The in-memory twin of ``DynamoDBFences`` (tests, benchmarks): stores + the cell index."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chalicelib.geo import geohash
from chalicelib.geo.fences import Fence, FenceIndex


class InMemoryFences:
    def __init__(self, precision: int = geohash.DEFAULT_PRECISION) -> None:
        self.stores: dict[str, dict[str, Any]] = {}
        self.index = FenceIndex(precision=precision)
        self.queries = 0

    def get(self, store_id: str) -> dict[str, Any] | None:
        store = self.stores.get(store_id)
        return copy.deepcopy(store) if store is not None else None

    def near(self, lat: float, lon: float) -> list[Fence]:
        return self.index.near(lat, lon)

    def has_fence(self, store_id: str) -> bool:
        return "shape" in self.stores.get(store_id, {})

    def save(self, store: dict[str, Any], fence: Fence, previous: dict[str, Any] | None) -> None:
        self.index.remove(fence.store_id)
        self.index.add(fence)
        self.stores[fence.store_id] = {
            **copy.deepcopy(store),
            "cells": sorted(fence.cells(self.index.precision)),
        }

    def save_many(self, stores: Sequence[tuple[dict[str, Any], Fence]]) -> None:
        for store, fence in stores:
            self.save(store, fence, self.stores.get(fence.store_id))

    def delete(self, store: dict[str, Any]) -> None:
        self.index.remove(store["store_id"])
        self.stores.pop(store["store_id"], None)

    def list(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(s) for s in self.stores.values()]
