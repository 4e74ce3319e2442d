"""``omnimsg check``: one decision, in words or as JSON (SPEC W1-W7, C1, X3)."""

from __future__ import annotations

import json

import pytest

from .conftest import NOW, Run

CHECK_KEYS = {
    "profile",
    "channel",
    "now",
    "allowed",
    "mode",
    "reason",
    "rule",
    "explanation",
    "window_closes_at",
    "remaining_in_window",
    "paid",
    "retry_at",
    "content",
}


def test_wechat_47h_19_sent_is_allowed_with_one_remaining(run: Run) -> None:
    """SPEC W5: the 20th message in the 48 h window is the last."""
    result = run("check", "--channel", "wechat", "--last-inbound", "47h", "--sent", "19", *NOW)
    assert result.status == 0
    assert "allowed (free_form)" in result.out
    assert "1 remaining" in result.out
    assert "within_window" in result.out


def test_exit_code_makes_a_refusal_exit_1(run: Run) -> None:
    """SPEC W5, W7: the reason is printed as a code with its rule."""
    args = ("check", "--channel", "wechat", "--last-inbound", "47h", "--sent", "20", *NOW)
    refused = run(*args, "--exit-code")
    assert refused.status == 1
    assert "window_cap_reached (SPEC W5)" in refused.out
    assert run(*args).status == 0


def test_exit_code_is_0_for_an_allowed_send(run: Run) -> None:
    assert run("check", "--channel", "sms", "--exit-code", *NOW).status == 0


@pytest.mark.parametrize(
    "when", ["2026-11-22T12:00:00+00:00", "2026-11-22T12:00Z", "2026-11-22T13:00+01:00", "24h"]
)
def test_last_inbound_24h_ago_needs_a_template_on_whatsapp(run: Run, when: str) -> None:
    """SPEC W2: at exactly 24 h the window is closed; a Z instant is an instant."""
    result = run("check", "--channel", "whatsapp", "--last-inbound", when, "--json", *NOW)
    assert result.status == 0
    document = json.loads(result.out)
    assert document["reason"] == "template_required"
    assert document["allowed"] is False


def test_a_negative_duration_means_that_long_ago(run: Run) -> None:
    """SPEC W2: -2h is two hours before --now, inside the 24 h window."""
    result = run("check", "--channel", "whatsapp", "--last-inbound", "-2h", "--json", *NOW)
    document = json.loads(result.out)
    assert document["allowed"] is True
    assert document["window_closes_at"] == "2026-11-24T10:00:00+00:00"


def test_check_json_has_the_documented_shape(run: Run) -> None:
    """SPEC W7, X3: verdict, mode, reason, rule, window and content as it goes."""
    result = run("check", "--channel", "sms", "--text", "Price: 10€. " * 40, "--json", *NOW)
    assert result.status == 0
    document = json.loads(result.out)
    assert set(document) == CHECK_KEYS
    assert document["profile"] == "respondio"
    assert document["channel"] == "sms"
    assert document["now"] == "2026-11-23T12:00:00+00:00"
    assert isinstance(document["explanation"], str)
    content = document["content"]
    assert set(content) == {"text", "length", "unit", "limit", "fits", "sms"}
    assert set(content["sms"]) == {"encoding", "units", "segments"}
    assert content["sms"]["encoding"] == "gsm7"


def test_check_json_of_a_refusal_before_content(run: Run) -> None:
    """SPEC W4: after Instagram's window nothing goes."""
    result = run("check", "--channel", "instagram", "--last-inbound", "8d", "--json", *NOW)
    document = json.loads(result.out)
    assert document["allowed"] is False
    assert document["mode"] == "blocked"
    assert document["reason"] == "window_closed"
    assert document["rule"] == "W4"


def test_media_links_count_toward_expertconnect_240_characters(run: Run) -> None:
    """SPEC C1, C2: the link goes inside the text and counts."""
    result = run(
        "check",
        "--profile",
        "expertconnect",
        "--channel",
        "sms",
        "--text",
        "x" * 230,
        "--media",
        "https://ex.co/promo.jpg",
        "--json",
        *NOW,
    )
    document = json.loads(result.out)
    assert document["reason"] == "content_too_long"
    assert document["rule"] == "C1"
    assert document["content"]["limit"] == 240


def test_a_voice_note_over_five_minutes_is_refused(run: Run) -> None:
    """SPEC C4."""
    result = run(
        "check",
        "--channel",
        "whatsapp",
        "--last-inbound",
        "1h",
        "--voice-seconds",
        "301",
        "--json",
        *NOW,
    )
    assert json.loads(result.out)["reason"] == "voice_note_too_long"


def test_an_opted_out_contact_gets_no_marketing(run: Run) -> None:
    """SPEC X1."""
    result = run(
        "check",
        "--channel",
        "sms",
        "--marketing",
        "--subscription",
        "unsubscribed",
        "--json",
        *NOW,
    )
    assert json.loads(result.out)["reason"] == "opted_out"


def test_viber_beyond_the_free_quota_without_paid_terms_is_refused(run: Run) -> None:
    """SPEC W6: the month is the account's own, in --account-tz."""
    args = ("check", "--channel", "viber", "--last-inbound", "2d", "--chatbot-count", "10000")
    refused = json.loads(run(*args, "--account-tz", "Asia/Tokyo", "--json", *NOW).out)
    assert refused["reason"] == "chatbot_quota_exhausted"
    paid = json.loads(run(*args, "--paid-terms", "--json", *NOW).out)
    assert paid["allowed"] is True
    assert paid["paid"] is True


def test_a_profile_file_is_a_value_with_a_slash_or_toml(run: Run) -> None:
    unknown = run("check", "--profile", "nosuch", "--channel", "sms", *NOW)
    assert unknown.status == 3
    assert "no built-in profile 'nosuch'" in unknown.err
    missing = run("check", "--profile", "./nosuch", "--channel", "sms", *NOW)
    assert missing.status == 3
    assert "cannot read profile file ./nosuch" in missing.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--now", "2026-11-23T12:00:00"), "--now: '2026-11-23T12:00:00' has no UTC offset"),
        (("--last-inbound", "yesterday", *NOW), "--last-inbound: invalid duration"),
        (("--last-inbound", "2026-11-22T12:00", *NOW), "--last-inbound: '2026-11-22T12:00'"),
        (("--sent", "-1", *NOW), "--sent"),
        (("--sent", "many", *NOW), "--sent"),
        (("--chatbot-count", "-5", *NOW), "--chatbot-count"),
        (("--account-tz", "Mars/Olympus", *NOW), "--account-tz: unknown time zone"),
        (("--media", "https://ex.co/a@gif", *NOW), "--media: unknown media kind 'gif'"),
        (("--subscription", "maybe", *NOW), "--subscription"),
        (("--voice-seconds", "nan", *NOW), "--voice-seconds"),
        (("--no-such-flag", *NOW), "--no-such-flag"),
    ],
)
def test_usage_errors_exit_2_and_speak_in_flags(
    run: Run, args: tuple[str, ...], needle: str
) -> None:
    result = run("check", "--channel", "sms", *args)
    assert result.status == 2
    assert result.out == ""
    assert result.err.startswith("omnimsg: error: ")
    assert needle in result.err
    assert "Try 'omnimsg check --help' for help." in result.err


def test_a_missing_channel_is_a_usage_error(run: Run) -> None:
    result = run("check", *NOW)
    assert result.status == 2
    assert "--channel" in result.err


def test_an_unknown_channel_is_an_omnimsg_error(run: Run) -> None:
    result = run("check", "--channel", "fax", *NOW)
    assert result.status == 3
    assert "unknown channel kind 'fax'" in result.err


def test_a_value_the_library_refuses_is_reported_under_its_flag(run: Run) -> None:
    """An inbound an hour before the end of year 9999 is out of the supported range."""
    result = run(
        "check", "--channel", "whatsapp", "--now", "9999-12-31T23:00Z", "--last-inbound", "1h"
    )
    assert result.status == 2
    assert result.err.startswith("omnimsg: error: --last-inbound: ")


def test_now_at_the_end_of_the_range_in_the_account_zone_is_a_usage_error(run: Run) -> None:
    """SPEC W6: the quota month is the account's; past year 9999 there is none."""
    result = run(
        "check", "--channel", "viber", "--account-tz", "Pacific/Kiritimati",
        "--now", "9999-12-31T23:00Z",
    )  # fmt: skip
    assert result.status == 2
    assert "--now: 9999-12-31T23:00:00+00:00 falls outside years 1-9999" in result.err
