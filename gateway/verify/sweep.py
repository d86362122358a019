"""The check's sweep of the store's keys, a part each round: every directory entry's MAC, and
every person with flag keys (a flag record no index names is found here). What a whole sweep
found is kept until the next one is whole."""

from __future__ import annotations

import asyncio

from gateway.audit.lease import Lease
from gateway.store.verify import VerifyStore
from gateway.verify.compare import subject_differences
from gateway.verify.fold import CheckMac
from gateway.verify.report import VerifyReport, keep


class Sweep:
    """Where the sweep stands, what its cycle has found so far, and what the last whole one found."""

    def __init__(self, store: VerifyStore, check_entry: CheckMac, keys_a_round: int) -> None:
        self.store = store
        self.check_entry = check_entry
        self.keys_a_round = keys_a_round
        self.cursor = "0"
        self.cycle_owners: dict[str, str] = {}
        self.cycle_unsealed = 0
        self.cycle_bad = 0
        # from the last whole sweep: each subject of a person the trail names, and that person
        # (checked every round, so a flagged person's code moved by hand is found within one)
        self.owners: dict[str, str] = {}
        self.found_in_store: set[str] = set()  # persons with flag keys the sweep found
        self.unsealed: int | None = None
        self.sealed_now = False  # the last whole sweep found every entry with a good MAC

    async def run(
        self,
        report: VerifyReport,
        whole: bool,
        named: set[str],
        directory_sealed: bool,
        lease: Lease | None = None,
    ) -> None:
        """The next `verify_sweep_keys` of the store's keys (every key when `whole`): each
        directory entry's MAC (whom it must resolve to is compared in the atomic look, where
        a remap not sealed yet is seen with its event), and every person with flag keys."""
        per_step = min(1000, max(100, self.keys_a_round))
        looked = 0
        while whole or looked < self.keys_a_round:
            step = await self.store.scan(self.cursor, per_step)
            looked += per_step
            await keep(lease)
            self.found_in_store.update(step.persons)
            for sk, value in step.entries:
                report.swept += 1
                person, _, mac = value.partition("|")
                if not mac:
                    self.cycle_unsealed += 1
                codes = subject_differences(
                    sk, value, None, self.check_entry, sealed=directory_sealed
                )
                if codes:
                    self.cycle_bad += 1
                    report.subjects[sk] = codes
                # a subject once found with a person the trail names stays theirs for the check
                # (a remap's signed event says otherwise; an edit by hand does not)
                owner = self.owners.get(sk)
                if owner is None and not codes and person in named:
                    owner = person
                if owner is not None:
                    self.cycle_owners[sk] = owner
            self.cursor = step.cursor
            if self.cursor == "0":
                self._done()
                break  # (the next round starts the next sweep)
            await asyncio.sleep(0)

    def _done(self) -> None:
        self.owners, self.cycle_owners = self.cycle_owners, {}
        self.unsealed = self.cycle_unsealed
        self.sealed_now = self.cycle_unsealed == 0 and self.cycle_bad == 0
        self.cycle_unsealed = self.cycle_bad = 0
