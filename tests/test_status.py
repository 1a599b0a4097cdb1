"""The status and the rules that follow from it: which changes the domain allows, each rule's
answer for every status, and that the code asks the rules instead of comparing status words."""

import ast
from types import SimpleNamespace

import pytest
from jinja2 import Environment, nodes
from sqlalchemy import select

from service.errors import Conflict
from service.models import Agreement
from service.status import (
    ALLOWED,
    LABELS,
    RULES,
    Status,
    accession_refusal,
    awaits_answers,
    change,
    is_completed,
    is_draft,
    is_open_for_accession,
    is_out_for_signature,
    may_edit,
    may_send,
)

from .helpers import ROOT

DRAFT, SENT, COMPLETED, DECLINED = Status.DRAFT, Status.SENT, Status.COMPLETED, Status.DECLINED

# Each rule and the statuses it holds for, written out here rather than read from status.py.
HOLDS_FOR = {
    is_draft: {DRAFT},
    may_edit: {DRAFT, SENT, DECLINED},
    may_send: {DRAFT, DECLINED},
    is_out_for_signature: {SENT, DECLINED},
    awaits_answers: {SENT},
    is_completed: {COMPLETED},
}


def an_agreement(status, kind="iop"):
    return SimpleNamespace(status=status.value, kind=kind)


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


@pytest.mark.parametrize("status", Status)
@pytest.mark.parametrize("rule", HOLDS_FOR, ids=lambda rule: rule.__name__)
def test_each_rule_for_each_status(rule, status):
    for kind in ("iop", "overenskommelse"):
        assert rule(an_agreement(status, kind)) is (status in HOLDS_FOR[rule])


@pytest.mark.parametrize("status", Status)
def test_only_a_completed_overenskommelse_takes_new_parties(status):
    assert is_open_for_accession(an_agreement(status, "overenskommelse")) is (status == COMPLETED)
    assert not is_open_for_accession(an_agreement(status, "iop"))


def test_the_refusal_of_accession_says_why():
    assert accession_refusal(an_agreement(COMPLETED, "iop")) == "Bara en överenskommelse kan ta emot nya parter."
    for status in (DRAFT, SENT, DECLINED):
        assert accession_refusal(an_agreement(status, "overenskommelse")) == (
            "Avtalet måste vara klart, alla parter ha bekräftat, innan fler organisationer kan anslutas."
        )
    assert accession_refusal(an_agreement(COMPLETED, "overenskommelse")) == ""


def test_the_pages_can_ask_every_rule(app):
    assert set(RULES) == {*HOLDS_FOR, is_open_for_accession}
    for rule in RULES:
        assert app.jinja_env.globals[rule.__name__] is rule


@pytest.mark.parametrize("rule", [is_draft, awaits_answers, is_completed], ids=lambda rule: rule.__name__)
def test_a_rule_of_one_comparison_selects_the_same_agreements_in_a_query(app, rule):
    with app.extensions["db"].session() as session:
        for status in Status:
            session.add(Agreement(kind="iop", title=status.value, status=status.value, data={}, data_sha256=""))
        session.flush()
        found = set(session.scalars(select(Agreement.status).where(rule(Agreement))))
    assert found == {status.value for status in HOLDS_FOR[rule]}


# --- the code asks the rules ---

STATUS_WORDS = {status.value for status in Status}
# Comparisons left to the rewrite of accession (issue 19) on main, which changes these functions
# anyway; each goes from this list when it asks status.is_completed.


def _python_agreement_status(node) -> bool:
    """An agreement's status: `agreement.status`, `Agreement.status`, `done["agreement"].status`, ...
    (a party's or a list's status, spelt with other words, is not one)."""
    return isinstance(node, ast.Attribute) and node.attr == "status" and "agreement" in ast.unparse(node.value).lower()


def _python_status_value(node) -> bool:
    """A status word, a collection holding one, or a member of Status."""
    if isinstance(node, ast.Constant):
        return node.value in STATUS_WORDS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_python_status_value(item) for item in node.elts)
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Status"


def status_comparisons_in_python(source: str) -> list[tuple[str, int]]:
    """(enclosing function, line) of each comparison of an agreement's status with a status word or member."""
    found = []

    def visit(node, function):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(map(_python_agreement_status, operands)) and any(map(_python_status_value, operands)):
                found.append((function, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(source), "")
    return found


def _jinja_status_value(node) -> bool:
    if isinstance(node, nodes.Const):
        return node.value in STATUS_WORDS
    return isinstance(node, nodes.Tuple | nodes.List) and any(map(_jinja_status_value, node.items))


def _jinja_agreement_status(node) -> bool:
    if not (isinstance(node, nodes.Getattr) and node.attr == "status"):
        return False
    words = [n.name for n in (node.node, *node.node.find_all(nodes.Name)) if isinstance(n, nodes.Name)]
    words += [c.value for c in (node.node, *node.node.find_all(nodes.Const)) if isinstance(c, nodes.Const)]
    return any("agreement" in str(word).lower() for word in words)


def status_comparisons_in_template(source: str) -> list[int]:
    """The line of each comparison of an agreement's status with a status word in a Jinja template."""
    found = []
    for compare in Environment().parse(source).find_all(nodes.Compare):
        operands = [compare.expr, *(operand.expr for operand in compare.ops)]
        if any(map(_jinja_agreement_status, operands)) and any(map(_jinja_status_value, operands)):
            found.append(compare.lineno)
    return found


def test_the_scan_finds_status_comparisons_and_nothing_else():
    source = """
def f(agreement, answer, accession):
    a = agreement.status == "completed"
    b = agreement.status not in ("draft", "declined")
    c = Agreement.status == Status.SENT
    d = done["agreement"].status == "completed" or get_agreement(session, 1).status != "draft"
    e = answer.decision == "declined" or row.status == "declined" or accession.status == "sending"
    g = agreement.status != status or after == Status.COMPLETED
    h = event.event in ("declined", "completed")
"""
    assert status_comparisons_in_python(source) == [("f", 3), ("f", 4), ("f", 5), ("f", 6), ("f", 6)]
    template = """{% if agreement.status in ("sent", "declined") %}x{% endif %}
{% if answer.decision == "declined" %}{% endif %}{% if accession.status == "sending" %}{% endif %}
{% if value == status %}{% endif %}{% if agreement.status != "draft" %}y{% endif %}
{% if row.status == "declined" %}{% endif %}{% if done["agreement"].status == "completed" %}{% endif %}"""
    assert status_comparisons_in_template(template) == [1, 3, 4]


def test_every_place_asks_the_rules_instead_of_comparing_status_words():
    found = set()
    for path in (ROOT / "service").rglob("*.py"):
        name = str(path.relative_to(ROOT))
        if name == "service/status.py" or "migrations" in path.parts:
            continue
        for function, line in status_comparisons_in_python(path.read_text(encoding="utf-8")):
            found.add((name, function, line))
    for path in (ROOT / "service" / "templates").rglob("*.html"):
        name = str(path.relative_to(ROOT))
        found.update((name, "", line) for line in status_comparisons_in_template(path.read_text(encoding="utf-8")))
    assert sorted(found) == []
