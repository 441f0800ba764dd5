"""Thread-safe LRU cache of display tiles with a memory cap in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np


class TileCache:
    """LRU map from a tile key, e.g. (level, tx, ty), to a tuple of numpy arrays.

    The total `nbytes` of the stored arrays never exceeds `capacity_bytes`; least recently used
    tiles are evicted first. A tile larger than the whole capacity is simply not stored.
    """

    def __init__(self, capacity_mb: float = 256.0) -> None:
        if capacity_mb < 0:
            raise ValueError(f"cache capacity must be >= 0 MB, got {capacity_mb}")
        self.capacity_bytes = int(capacity_mb * 1024 * 1024)
        self._items: OrderedDict[Hashable, tuple[np.ndarray, ...]] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> tuple[np.ndarray, ...] | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: tuple[np.ndarray, ...]) -> None:
        size = sum(a.nbytes for a in value)
        if size > self.capacity_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._nbytes -= sum(a.nbytes for a in old)
            self._items[key] = value
            self._nbytes += size
            while self._nbytes > self.capacity_bytes:
                _, evicted = self._items.popitem(last=False)
                self._nbytes -= sum(a.nbytes for a in evicted)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._nbytes = 0
