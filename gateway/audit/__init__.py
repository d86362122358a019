"""The audit trail: every decision, staff action, flag change and security event as evidence.

Actions append raw events atomically with themselves (store/lua/prelude.lua `emit`); the sealer
(`sealer.py`, one process at a time) numbers and chains them into the trail and signs each block
of them once; the archiver (`archive.py`) moves old sealed events to files; `live.py` exports and verifies the live trail;
`verify.py`, `files.py` and `record.py` verify offline with the public keys alone
(`pubkeys.py`). The format and how to check it are in docs/audit.md.
"""
