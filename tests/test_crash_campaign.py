"""A short crash campaign (tools/crash_campaign.py; issue 16, item 3): build, apply, rollback
and prune SIGKILLed at random moments, every published snapshot checked entry by entry after
each kill. The full run (100+ kills) and its figures: docs/ROBUSTNESS.md."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's tools/

from tools.crash_campaign import COMMANDS, Campaign, CampaignBroken

PEOPLE = 5000


@pytest.mark.slow
def test_a_short_campaign_finds_every_snapshot_whole(tmp_path):
    figures = Campaign(tmp_path, PEOPLE, seed=16).campaign(kills=12, each=2)
    assert sum(figures.kills.values()) >= 12
    assert all(figures.kills[command] >= 2 for command in COMMANDS), figures.summary()
    assert figures.snapshots_verified >= 12, figures.summary()


@pytest.fixture
def calibrated(tmp_path):
    campaign = Campaign(tmp_path, 500, seed=3)
    campaign.calibrate()
    return campaign


def test_the_checks_catch_a_snapshot_that_holds_other_rows(calibrated):
    """The verifier is not vacuous: a snapshot whose store is another's fails it."""
    snapshots = calibrated.data.list()
    first, other = snapshots[0].path, snapshots[-1].path
    assert calibrated.contents[first.name] != calibrated.contents[other.name]
    (first / "data.mdb").unlink()
    shutil.copy(other / "data.mdb", first / "data.mdb")
    shutil.rmtree(first / "overlay", ignore_errors=True)
    if (other / "overlay").exists():
        shutil.copytree(other / "overlay", first / "overlay")
    with pytest.raises(CampaignBroken, match=f"snapshot {first.name} does not answer"):
        calibrated.verify(everything=True)


def test_the_checks_catch_a_partial_snapshot(calibrated):
    partial = calibrated.data.snapshots / "20991231T000000Z-dead"
    shutil.copytree(calibrated.data.current_path(), partial)
    (partial / "manifest.json").unlink()
    with pytest.raises(CampaignBroken, match="visible without its manifest"):
        calibrated.verify(everything=True)


def test_the_checks_catch_a_current_that_names_nothing(calibrated):
    (calibrated.data.root / "CURRENT").write_text("20991231T000000Z-gone\n")
    with pytest.raises(CampaignBroken, match="not published"):
        calibrated.verify(everything=False)
