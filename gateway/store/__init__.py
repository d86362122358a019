"""Redis access: the only layer that knows keys, scripts and the wire. Speaks in domain words."""

from gateway.store.redis import StoreUnavailable

__all__ = ["StoreUnavailable"]
