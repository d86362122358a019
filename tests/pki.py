"""Test support shared with deploy/topology.py: the throwaway CA and the topology itself.

deploy/ is not a package; this loads deploy/topology.py by path so that the tests and the
operator's try-out script share one implementation.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOPOLOGY_PATH = Path(__file__).resolve().parents[1] / "deploy" / "topology.py"


def _load() -> ModuleType:
    name = "hogo_deploy_topology"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TOPOLOGY_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


topology = _load()
ThrowawayCA = topology.ThrowawayCA
Issued = topology.Issued
Topology = topology.Topology


def redis_major_version() -> int:
    """The major version of the redis-server the tests run (deploy/ needs 7.0 or newer)."""
    import re
    import subprocess

    from gateway.embedded import redis_server_binary

    out = subprocess.run(
        [redis_server_binary(), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    found = re.search(r"v=(\d+)\.", out)
    return int(found.group(1)) if found else 0
