"""The pytest plugin: its fixtures, markers and ini options, run as a user's suite would.

Each test writes a small test file and runs it in-process with pytester and
``-p omnimsg.testing.pytest_plugin``; SPEC ids are cited where a fixture serves a rule.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = (
    # -p no:omnimsg: once the package is installed with its pytest11 entry point, loading
    # the module again by its own name would register it twice.
    "-p",
    "no:omnimsg",
    "-p",
    "omnimsg.testing.pytest_plugin",
    "-W",
    "error",
    "-p",
    "no:cacheprovider",
)


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_inprocess(*PLUGIN, *args)


def test_the_fixtures_give_a_clock_transport_store_and_profile(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
from datetime import UTC, datetime, timedelta
from omnimsg import MemoryStateStore, Profile
from omnimsg.testing import FixedClock, RecordingTransport

def test_fixtures(omnimsg_now, omnimsg_clock, omnimsg_transport, omnimsg_state_store,
                  omnimsg_profile):
    assert omnimsg_now == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert isinstance(omnimsg_clock, FixedClock) and omnimsg_clock.now() == omnimsg_now
    omnimsg_clock.advance(timedelta(hours=2))
    assert omnimsg_clock.now() == omnimsg_now + timedelta(hours=2)
    assert isinstance(omnimsg_transport, RecordingTransport)
    assert omnimsg_transport.requests == []
    assert isinstance(omnimsg_state_store, MemoryStateStore)
    assert omnimsg_state_store.get_account("wa-1") is None
    assert isinstance(omnimsg_profile, Profile) and omnimsg_profile.name == "official"
""",
    )
    result.assert_outcomes(passed=1)


def test_markers_set_the_instant_and_the_profile(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import pytest
from datetime import UTC, datetime

@pytest.mark.omnimsg_now("2026-03-01T10:00:00+01:00")
@pytest.mark.omnimsg_profile("respondio")
def test_marked(omnimsg_now, omnimsg_clock, omnimsg_profile):
    assert omnimsg_now == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert omnimsg_now.utcoffset().total_seconds() == 0
    assert omnimsg_clock.now() == omnimsg_now
    assert omnimsg_profile.name == "respondio"

@pytest.mark.omnimsg_now(datetime(2027, 1, 1, tzinfo=UTC))
def test_a_datetime_marker(omnimsg_now):
    assert omnimsg_now.year == 2027
""",
    )
    result.assert_outcomes(passed=2)


def test_ini_options_set_the_suite_defaults(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nomnimsg_now = 2025-06-01T12:00:00+00:00\nomnimsg_profile = livetex\n"
    )
    result = run(
        pytester,
        """
def test_ini(omnimsg_now, omnimsg_profile):
    assert omnimsg_now.isoformat() == "2025-06-01T12:00:00+00:00"
    assert omnimsg_profile.name == "livetex"
""",
    )
    result.assert_outcomes(passed=1)


def test_a_naive_or_malformed_instant_is_an_error(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import pytest

@pytest.mark.omnimsg_now("2026-03-01T10:00:00")
def test_naive(omnimsg_now):
    pass

@pytest.mark.omnimsg_now("yesterday")
def test_malformed(omnimsg_now):
    pass

@pytest.mark.omnimsg_now()
def test_no_argument(omnimsg_now):
    pass
""",
    )
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*NaiveDatetimeError*", "*expected an ISO 8601 datetime*"])


def test_make_profile_derives_in_one_line(pytester: pytest.Pytester) -> None:
    """SPEC W8: windows are profile data; a test derives its own."""
    result = run(
        pytester,
        """
from datetime import timedelta

def test_derive(make_profile, omnimsg_now):
    longer = make_profile("official", whatsapp={"window": "48h"})
    caps = longer.capabilities("whatsapp", as_of=omnimsg_now)
    assert caps.window == timedelta(hours=48)
    assert longer.name == "official-test"
    quiet = make_profile(sms={"quiet_hours": {"start": "09:00", "end": "20:00"}}, name="q")
    assert quiet.name == "q"
    assert str(quiet.capabilities("sms", as_of=omnimsg_now).quiet_hours.start) == "09:00:00"
""",
    )
    result.assert_outcomes(passed=1)


def test_make_contact_gives_unique_ids_and_windows(pytester: pytest.Pytester) -> None:
    """SPEC W2, X1: a contact's window and opt-out in one call."""
    result = run(
        pytester,
        """
from datetime import timedelta
from omnimsg import SubscriptionStatus, conversation_state

def test_contacts(make_contact, omnimsg_now):
    a = make_contact(last_inbound=timedelta(hours=2))
    b = make_contact(opted_out=True)
    assert a.id != b.id
    assert a.phone != b.phone
    assert conversation_state(a, "wa-1").last_inbound_at == omnimsg_now - timedelta(hours=2)
    assert b.subscriptions["sms-1"].status is SubscriptionStatus.UNSUBSCRIBED
""",
    )
    result.assert_outcomes(passed=1)


def test_a_conftest_fixture_overrides_the_plugins(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef make_contact():\n    return 'mine'\n"
    )
    result = run(pytester, "def test_mine(make_contact):\n    assert make_contact == 'mine'\n")
    result.assert_outcomes(passed=1)


def test_the_plugin_adds_nothing_to_a_suite_that_ignores_it(pytester: pytest.Pytester) -> None:
    """Loading it under -W error and --strict-markers changes nothing and warns of nothing."""
    result = run(pytester, "def test_plain():\n    assert True\n", "--strict-markers")
    result.assert_outcomes(passed=1)
    assert "warning" not in result.stdout.str().lower()


def test_loading_the_plugin_imports_no_optional_dependency() -> None:
    code = (
        "import sys\n"
        "import omnimsg.testing.pytest_plugin\n"
        "heavy = {'hypothesis', 'typer', 'rich', 'sqlalchemy', 'redis', 'psycopg', 'celery'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_an_empty_marker_is_an_error_not_the_default(pytester: pytest.Pytester) -> None:
    """An empty instant or profile in a marker is a mistake, never the default."""
    result = run(
        pytester,
        """
import pytest

@pytest.mark.omnimsg_now("")
def test_empty_now(omnimsg_now):
    pass

@pytest.mark.omnimsg_profile("")
def test_empty_profile(omnimsg_profile):
    pass

@pytest.mark.omnimsg_profile(5)
def test_number_profile(omnimsg_profile):
    pass
""",
    )
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*expected an ISO 8601 datetime*", "*UnknownProfileError*"])
    result.stdout.fnmatch_lines(["*expected a profile name, a .toml path or a Profile*"])


def test_a_profile_object_in_a_marker(pytester: pytest.Pytester) -> None:
    """SPEC W8: a profile derived in the test module, given to the fixtures."""
    result = run(
        pytester,
        """
import pytest
from omnimsg.testing import derive_profile

OURS = derive_profile("official", name="ours", sms={"daily_recipient_cap": 10})

@pytest.mark.omnimsg_profile(OURS)
def test_ours(omnimsg_profile, make_profile):
    assert omnimsg_profile is OURS
    assert make_profile().name == "ours-test"
""",
    )
    result.assert_outcomes(passed=1)


def test_a_relative_profile_path_in_the_ini_is_read_from_the_ini_folder(
    pytester: pytest.Pytester,
) -> None:
    """Run from another folder, the suite still finds its profile file."""
    pytester.mkdir("conf")
    (pytester.path / "conf" / "shop.toml").write_text(
        'name = "shop"\nextends = "official"\n', encoding="utf-8"
    )
    pytester.makeini("[pytest]\nomnimsg_profile = conf/shop.toml\n")
    pytester.makepyfile(
        test_user="def test_shop(omnimsg_profile):\n    assert omnimsg_profile.name == 'shop'\n"
    )
    sub = pytester.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(sub)
        result = pytester.runpytest_inprocess(
            *PLUGIN, "-c", str(pytester.path / "tox.ini"), str(pytester.path)
        )
    result.assert_outcomes(passed=1)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_examples_of_docs_testing_md_run_and_pass(pytester: pytest.Pytester) -> None:
    """Every example of docs/testing.md that is a test runs, with the plugin, and passes."""
    blocks = [b for b in BLOCK.findall(DOCS.read_text(encoding="utf-8")) if "def test_" in b]
    assert len(blocks) >= 3
    for n, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_doc_{n}": block})
    result = pytester.runpytest_inprocess(*PLUGIN)
    result.assert_outcomes(passed=sum(b.count("\ndef test_") for b in blocks))


def test_the_failure_shown_in_docs_testing_md_is_the_real_one() -> None:
    """The first failure message the page shows is what assert_allowed says."""
    from datetime import UTC, datetime, timedelta

    from omnimsg import ConversationState, Message, decide, load_profile
    from omnimsg.testing import assert_allowed

    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    caps = load_profile("official").capabilities("whatsapp", as_of=now)
    closed = ConversationState(last_inbound_at=now - timedelta(days=3))
    with pytest.raises(AssertionError) as failed:
        assert_allowed(decide(caps, closed, Message(text="Hi"), now=now))
    assert f"ConformanceError: {failed.value}\n" in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["2026-03-06T10:00:00", "2026-03-06", "20260306T1000"])
def test_a_naive_instant_in_the_ini_is_an_error(pytester: pytest.Pytester, value: str) -> None:
    """A suite-wide instant without an offset is refused, never read as UTC or local."""
    pytester.makeini(f"[pytest]\nomnimsg_now = {value}\n")
    result = run(pytester, "def test_now(omnimsg_now, omnimsg_clock):\n    pass\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*NaiveDatetimeError*"])
