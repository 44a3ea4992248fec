"""The sidebar tells failed from pending by the same reasons as the operator and the local backend."""

import re
from pathlib import Path

from jupyter_substratus.api import workloads

STATE_TS = Path(__file__).resolve().parents[2] / "labextension" / "src" / "logic" / "state.ts"


def test_the_front_end_knows_every_failure_reason():
    declared = re.search(r"FAILURE_REASONS[^=]*= new Set\(\[(.*?)\]\)", STATE_TS.read_text(), re.S)
    assert set(re.findall(r"'(\w+)'", declared.group(1))) == workloads.FAILURE_REASONS
