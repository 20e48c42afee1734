"""Redaction: registered secrets and known token shapes never reach log output."""

from __future__ import annotations

import io
import json
import logging

from mendflow.redaction import MASK, redact, redact_value, register_secret
from mendflow.telemetry import configure_logging, get_logger


def test_registered_secret_is_masked_anywhere_in_text() -> None:
    """A registered value is replaced wherever it appears."""
    register_secret("s3cr3t-canary-value")
    assert redact("x s3cr3t-canary-value y") == f"x {MASK} y"


def test_known_token_shapes_are_masked_without_registration() -> None:
    """GitHub and Slack token shapes and bearer headers are masked even if nobody registered them."""
    text = "ghp_" + "A" * 36 + " xoxb-1234567890-abcdefghij Bearer abc.def.ghi123"
    out = redact(text)
    assert "ghp_" not in out and "xoxb-" not in out and "abc.def.ghi123" not in out


def test_a_mendflow_api_token_pasted_into_free_text_is_masked() -> None:
    """A personal API token (`mfp_…`) is masked on its own, not only after `Bearer`, with the text around kept."""
    secret = "mfp_" + "Ab9_-" * 8 + "xyz"
    out = redact(f"approved; my token was {secret}, oops")
    assert secret not in out and "mfp_" not in out
    assert out == f"approved; my token was {MASK}, oops"


def test_values_under_secret_keys_are_masked_but_vendor_mask_is_kept() -> None:
    """`secret`/`token` keys are masked; GitHub's own `********` stays readable."""
    value = {"config": {"secret": "plain", "url": "https://x"}, "hook": {"secret": "********"}, "token": "t0k"}
    assert redact_value(value) == {
        "config": {"secret": MASK, "url": "https://x"},
        "hook": {"secret": "********"},
        "token": MASK,
    }


def test_log_lines_and_exceptions_are_redacted() -> None:
    """Neither an event field nor an exception message leaks a registered secret into JSON logs."""
    canary = "ghs_logcanary0123456789abcdef"
    register_secret(canary)
    stream = io.StringIO()
    configure_logging(level="INFO", json_output=True, stream=stream)
    log = get_logger("test")
    log.info("calling vendor", header=f"Bearer {canary}")
    try:
        raise RuntimeError(f"failed with {canary}")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("third.party").warning("raw %s", canary)
    output = stream.getvalue()
    assert canary not in output
    assert output.count(MASK) >= 3
    assert all(json.loads(line) for line in output.splitlines() if line.startswith("{"))


def test_the_shortest_text_each_token_shape_matches_is_still_masked() -> None:
    """Short text skips the shape patterns (a fast path): each shape's shortest match is at or above that length."""
    shortest = ["ssws " + "a" * 8, "xoxb-" + "a" * 10, "xapp-" + "a" * 10, "ghp_" + "a" * 20, "mfp_" + "a" * 20]
    for text in shortest:
        assert redact(text) != text, text
        assert redact(text[:-1]) == text[:-1], text  # one character short: not that shape


def test_a_short_registered_secret_is_masked_and_the_longest_secret_first() -> None:
    register_secret("k9#q")
    register_secret("k9#q-longer-part")
    assert redact("a=k9#q") == f"a={MASK}"
    assert redact("x k9#q-longer-part y") == f"x {MASK} y"
