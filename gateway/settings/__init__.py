"""One settings object for the whole gateway: command line over environment over defaults.

reading.py declares and reads a setting (one parser, yes/no words, the unknown-variable warning),
network.py the listeners, their TLS and the store's address, attempts.py the attempts' mail and
pattern rules, core.py the Settings object that holds them all."""

from __future__ import annotations

import os
from collections.abc import Mapping

from gateway.settings.attempts import MAIL_ADDRESS, SMTP_SECURITY, AttemptSettings, read_mailboxes
from gateway.settings.core import Settings
from gateway.settings.network import (
    COMPOSITE_ENV,
    SEPARABLE,
    SERVICES,
    Listener,
    TlsFiles,
    is_loopback,
    parse_address,
    parse_addresses,
    store_url,
    tls_from,
)
from gateway.settings.reading import (
    FALSE_WORDS,
    TRUE_WORDS,
    EnvVar,
    SettingsError,
    parse_bool,
    setting,
    unknown_variables,
)

__all__ = [
    "COMPOSITE_ENV",
    "FALSE_WORDS",
    "MAIL_ADDRESS",
    "SEPARABLE",
    "SERVICES",
    "SMTP_SECURITY",
    "TRUE_WORDS",
    "AttemptSettings",
    "EnvVar",
    "Listener",
    "Settings",
    "SettingsError",
    "TlsFiles",
    "environment_variables",
    "is_loopback",
    "parse_address",
    "parse_addresses",
    "parse_bool",
    "read_mailboxes",
    "setting",
    "store_url",
    "tls_from",
    "unknown_environment",
]


def environment_variables() -> list[EnvVar]:
    """Everything the gateway reads from its environment, for the operator (`hogo-gateway
    settings`): the plain settings with their defaults, then the assembled ones."""
    composite = [EnvVar(name, "", "", text) for name, text in sorted(COMPOSITE_ENV.items())]
    return [*Settings.declared(), *AttemptSettings.declared(), *composite]


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """HOGO_* variables the gateway does not read (see `unknown_variables`): said at start."""
    return unknown_variables(os.environ if environ is None else environ, Settings.known_env())
