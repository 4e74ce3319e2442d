"""The rule catalogue: every SPEC id and every reason code any code path can cite."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimsg import InputError, builtin_profile_names, load_profile
from omnimsg.audiences import IdRejection, RowRejection
from omnimsg.broadcasts import PLAN_REASONS
from omnimsg.policy import REASONS
from omnimsg.policy.catalogue import (
    SECTIONS,
    ReasonEntry,
    RuleEntry,
    UnknownRuleError,
    catalogue_markdown,
    citing,
    lookup,
    reason,
    reasons,
    rule,
    rules,
)
from omnimsg.policy.limits import RULE_OF_VERSION, TierCause

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "src" / "omnimsg"
PAGE = ROOT / "docs" / "rules.md"
REGENERATE = "omnimsg explain --markdown > docs/rules.md"
SPEC_IDS = [
    *(f"W{i}" for i in range(1, 9)),
    *(f"C{i}" for i in range(1, 7)),
    *(f"A{i}" for i in range(1, 7)),
    *(f"B{i}" for i in range(1, 18)),
    *(f"V{i}" for i in range(1, 4)),
    *(f"X{i}" for i in range(1, 6)),
    *(f"P{i}" for i in range(1, 17)),
]
RULE_ID = re.compile(r"\b([WCABVXP][1-9]\d?)\b")
# A rule id as code and data cite it: a string that is, or starts with, the id.
QUOTED_ID = re.compile(r"[\"']([WCABVXP][1-9]\d?)\b")
# A ledger reason and its rule, as the dispatcher's steps settle a send with them.
LEDGER = re.compile(r'LedgerStatus\.[A-Z]+,\s*"([a-z_]+)"')
WORDED = re.compile(r'(?:reason=|return )"([a-z]+(?:_[a-z]+)+)"')
HOSTILE = [None, 7, 2.5, b"W2", ["W2"], {"W2": 1}, object()]


def test_every_spec_rule_id_is_in_the_catalogue_in_spec_order() -> None:
    """SPEC W1-W8, C1-C6, A1-A6, B1-B17, V1-V3, X1-X5, P1-P16: each has an entry."""
    assert [entry.id for entry in rules()] == SPEC_IDS


def test_every_rule_has_a_title_a_text_and_its_section() -> None:
    for entry in rules():
        assert entry.title.strip(), entry.id
        assert entry.text.strip(), entry.id
        assert entry.id[0] in SECTIONS
        assert entry.section == rules()[[e.id[0] for e in rules()].index(entry.id[0])].section


def test_dated_platform_rules_say_their_platform_and_period() -> None:
    """SPEC section 7: every P rule is dated and names its platform."""
    for entry in rules():
        dated = entry.id.startswith("P")
        assert (entry.platform is not None) is dated, entry.id
        assert (entry.in_force is not None) is dated, entry.id


def test_every_decision_reason_is_in_the_catalogue_with_its_table_rule_and_words() -> None:
    """SPEC W7: a decision's reason code is machine-readable and explained."""
    for code, info in REASONS.items():
        entry = reason(str(code))
        assert (entry.rule, entry.words) == (info.rule, info.words)
        assert "decide" in entry.sources


def test_every_planner_reason_is_in_the_catalogue_with_its_table_rule_and_words() -> None:
    """SPEC B15: every contact the plan leaves out has a reason users can look up."""
    for code, info in PLAN_REASONS.items():
        entry = reason(str(code))
        assert (entry.rule, entry.words) == (info.rule, info.words)
        assert "plan" in entry.sources


@pytest.mark.parametrize("enum", [IdRejection, RowRejection])
def test_every_id_list_and_csv_rejection_is_in_the_catalogue(enum: type[object]) -> None:
    """SPEC A4, A5: a rejected id or row is reported with a code the catalogue explains."""
    for member in enum:  # type: ignore[attr-defined]
        entry = reason(str(member))
        assert entry.rule in {"A4", "A5"}, entry


def test_every_cause_of_a_tier_change_is_in_the_catalogue() -> None:
    """SPEC B13, B14, P2-P4: a limit status says why the tier moved, in catalogue words."""
    for cause in TierCause:
        entry = reason(str(cause))
        assert entry.sources == ("messaging limits",)
        assert set(entry.rules) <= {"B13", "B14", "P2", "P3", "P4"}


def test_every_ledger_reason_the_dispatcher_writes_is_in_the_catalogue() -> None:
    """SPEC B15, X5: every reason a ledger entry can carry is explained."""
    written: set[str] = set()
    for name in ("steps.py", "ledger.py"):
        text = (SOURCE / "delivery" / name).read_text(encoding="utf-8")
        written |= set(LEDGER.findall(text)) | set(WORDED.findall(text))
    assert {"expired", "no_capacity", "rejected", "no_answer", "worker_stopped"} <= written
    for code in written:
        assert "dispatch" in reason(code).sources or reason(code).sources[0] == "decide", code


def test_every_rule_any_code_path_cites_is_in_the_catalogue() -> None:
    """Every rule id in the package's code and profile data resolves to an entry."""
    cited: set[str] = set(RULE_OF_VERSION.values())
    for path in SOURCE.rglob("*"):
        if path.suffix in {".py", ".toml"} and path.name != "rules.toml":
            cited |= set(QUOTED_ID.findall(path.read_text(encoding="utf-8")))
    for entry in reasons():
        cited |= set(entry.rules)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for name in builtin_profile_names():
        profile = load_profile(name)
        for kind in profile.kinds:
            for source in profile.capabilities(kind, as_of=now).sources:
                cited |= set(RULE_ID.findall(source))
    known = {entry.id for entry in rules()}
    assert cited - known == set()
    assert len(cited) > 40


def test_reason_codes_are_unique_and_cite_known_rules() -> None:
    codes = [entry.code for entry in reasons()]
    assert len(codes) == len(set(codes))
    for entry in reasons():
        for rule_id in entry.rules:
            assert rule(rule_id).id == rule_id


def test_w2_is_cited_by_the_window_reasons() -> None:
    """SPEC W2: within_window, template_outside_window and template_required cite it."""
    codes = {entry.code for entry in citing("W2")}
    assert {"within_window", "template_outside_window", "template_required"} <= codes


def test_a_length_refusal_cites_every_limit_it_can_break() -> None:
    """SPEC C1, C3, X3: content_too_long cites the limit broken; C3 first."""
    assert reason("content_too_long").rules[0] == "C3"
    assert {"C1", "X3"} <= set(reason("content_too_long").rules)
    assert reason("content_too_long") in citing("X3")


def test_a_code_without_a_rule_cites_none() -> None:
    entry = reason("worker_stopped")
    assert entry.rule is None
    assert entry.rules == ()


@pytest.mark.parametrize("spelling", ["W2", "w2", " [W2] ", "[w2]"])
def test_rule_ids_are_read_as_outputs_print_them(spelling: str) -> None:
    assert rule(spelling).id == "W2"
    assert lookup(spelling) == rule("W2")


def test_lookup_finds_reasons_in_any_case() -> None:
    assert isinstance(lookup("TEMPLATE_REQUIRED"), ReasonEntry)
    assert isinstance(lookup("B17"), RuleEntry)
    assert lookup("template_required").rule == "W2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("wrong", "suggested"),
    [("W22", "W2"), ("templat_required", "template_required"), ("B71", "B17")],
)
def test_an_unknown_id_is_refused_with_a_suggestion(wrong: str, suggested: str) -> None:
    with pytest.raises(UnknownRuleError, match="did you mean") as caught:
        lookup(wrong)
    assert suggested in caught.value.suggestions
    assert isinstance(caught.value, InputError)
    assert isinstance(caught.value, LookupError)


def test_rule_and_reason_refuse_each_others_names() -> None:
    with pytest.raises(UnknownRuleError, match="unknown rule id"):
        rule("template_required")
    with pytest.raises(UnknownRuleError, match="unknown reason code"):
        reason("W2")
    with pytest.raises(UnknownRuleError):
        citing("Z9")


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("function", [rule, reason, lookup, citing])
def test_non_strings_are_refused_with_an_input_error(value: object, function: object) -> None:
    with pytest.raises(InputError, match="expected a string"):
        function(value)  # type: ignore[operator]


@pytest.mark.parametrize(
    "value", ["", "\x00", "\ud800", "W2\x00", "x" * 100_000, "[" * 50_000 + "Q2", "\u202eW2"]
)
def test_hostile_strings_are_unknown_and_the_message_is_bounded(value: str) -> None:
    with pytest.raises(UnknownRuleError) as caught:
        lookup(value)
    assert len(str(caught.value)) < 300


@settings(max_examples=50)
@given(st.text(max_size=80))
def test_any_text_is_found_or_refused_with_an_omnimsg_error(value: str) -> None:
    try:
        found: RuleEntry | ReasonEntry | None = lookup(value)
    except UnknownRuleError as exc:
        found = None
        suggestions = exc.suggestions
    else:
        suggestions = ()
    if found is None:
        assert all(isinstance(s, str) for s in suggestions)
        assert suggestions == tuple(dict.fromkeys(suggestions))  # no suggestion twice
    else:
        assert isinstance(found, RuleEntry | ReasonEntry)


def test_docs_rules_page_is_up_to_date() -> None:
    """docs/rules.md is generated from the catalogue; regenerate it when this fails."""
    assert PAGE.read_text(encoding="utf-8") == catalogue_markdown(), f"run: {REGENERATE}"


def test_the_page_anchors_every_rule_and_lists_every_reason() -> None:
    page = catalogue_markdown()
    for rule_id in SPEC_IDS:
        assert f"{{ #{rule_id} }}" in page
    for entry in reasons():
        assert f"| `{entry.code}` |" in page


def test_the_catalogue_is_read_lazily_not_at_import_omnimsg() -> None:
    """``import omnimsg`` neither imports the catalogue module nor reads its data."""
    code = "import sys, omnimsg, omnimsg.policy; print('omnimsg.policy.catalogue' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert done.stdout.strip() == "False"


def test_the_data_file_ships_inside_the_package() -> None:
    """The catalogue reads no file outside the package (hatchling ships src/omnimsg)."""
    data = SOURCE / "policy" / "rules.toml"
    assert data.is_file()
    assert "shared" not in (SOURCE / "policy" / "catalogue.py").read_text(encoding="utf-8")
