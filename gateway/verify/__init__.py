"""The check that the flag state and the directory in the store are what the gateway made them:
each person's flags recomputed from the signed trail and from the flag history, each directory
entry checked against its MAC, and what differs held for review (docs/security.md section 6)."""
