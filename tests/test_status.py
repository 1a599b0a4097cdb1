"""The status rule: which changes the domain allows, and the Swedish refusal of the others."""

from types import SimpleNamespace

import pytest

from service.errors import Conflict
from service.status import ALLOWED, LABELS, Status, change


def test_every_status_has_a_label_and_its_allowed_changes():
    assert set(LABELS) == set(ALLOWED) == set(Status)


@pytest.mark.parametrize("start, to", [(a, b) for a in Status for b in Status])
def test_a_change_happens_only_when_allowed(start, to):
    agreement = SimpleNamespace(status=start.value)
    if to in ALLOWED[start]:
        change(agreement, to)
        assert agreement.status == to.value
    else:
        with pytest.raises(Conflict) as refused:
            change(agreement, to)
        assert agreement.status == start.value
        assert refused.value.message == f"Ett avtal med status {LABELS[start]} kan inte bli {LABELS[to]}."


def test_a_completed_agreement_never_goes_back_to_draft():
    assert Status.DRAFT not in ALLOWED[Status.COMPLETED]
