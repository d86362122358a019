"""The one rule for what a sealed part of a stored record is bound to (its AES-GCM associated
data, gateway/crypto.py Keyring.seal): `scope:id:part`. A sealed value copied into another record,
or into another field of the same record, does not open there. Every store module makes its
contexts here; the strings are part of the stored data (changing one makes what was sealed under
it unreadable), so tests/test_sealing_contexts.py pins them.
"""

from __future__ import annotations

from collections.abc import Callable


def part_context(scope: str, part: str) -> Callable[[str], str]:
    """The context maker for `part` of a `scope` record: record id -> 'scope:id:part'."""

    def context(record_id: str) -> str:
        return f"{scope}:{record_id}:{part}"

    context.__name__ = f"{part}_context"
    context.__doc__ = f"The context `{part}` of a `{scope}` record is sealed under."
    return context
