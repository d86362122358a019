"""The services the staff console, its JSON API and the command line call: what staff may do and
how it is checked (accounts, approvals of held queries, auditing, registrars' flags, the
attempts told to a department, the security team's patterns). They call the store; the edges
(gateway/staff/, gateway/cli/) call them and never the store. `console.py` builds them once per
gateway."""
