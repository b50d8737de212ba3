"""domain/templates.py: a fixed set of placeholders, fallbacks, escaping only for HTML, and
truncation on a word boundary. A template can never reach anything but the values it is given."""

from __future__ import annotations

import pytest

from chalicelib.domain.templates import PLACEHOLDERS, render, truncate, unknown_placeholders

# --- placeholders ------------------------------------------------------------------------------


def test_given_a_first_name_then_the_placeholder_is_replaced():
    assert render("Hi {first_name}!", {"first_name": "Ada"}) == "Hi Ada!"


def test_given_no_first_name_then_the_fallback_is_used():
    assert render("Hi {first_name|there}!", {}) == "Hi there!"


@pytest.mark.parametrize("value", [None, ""])
def test_given_an_empty_first_name_then_the_fallback_is_used(value):
    assert render("Hi {first_name|there}!", {"first_name": value}) == "Hi there!"


def test_given_a_first_name_then_the_fallback_is_ignored():
    assert render("Hi {first_name|there}!", {"first_name": "Ada"}) == "Hi Ada!"


def test_given_no_value_and_no_fallback_then_the_placeholder_renders_empty():
    assert render("Hi {first_name}!", {}) == "Hi !"


def test_given_every_known_placeholder_then_each_is_replaced():
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    template = " ".join("{" + name + "}" for name in sorted(PLACEHOLDERS))

    assert render(template, values) == " ".join(f"<{name}>" for name in sorted(PLACEHOLDERS))


def test_given_an_unknown_name_then_its_value_is_never_used_even_when_given():
    rendered = render("{secret}|{password|none}", {"secret": "s3cr3t", "password": "hunter2"})

    assert "s3cr3t" not in rendered and "hunter2" not in rendered
    assert rendered == "|none"


@pytest.mark.parametrize(
    "template",
    ["{x.__class__}", "{first_name.__class__}", "{first_name[0]}", "{0}", "{FIRST_NAME}", "{first_name!r}"],
)
def test_given_attribute_index_or_format_syntax_then_it_stays_literal(template):
    assert render(template, {"first_name": "Ada", "x": "y"}) == template


def test_given_a_value_that_looks_like_a_placeholder_then_it_is_not_expanded_again():
    assert render("{first_name}", {"first_name": "{code}", "code": "SECRET"}) == "{code}"


def test_given_a_template_then_unknown_placeholders_are_listed_sorted_and_once():
    assert unknown_placeholders("{zeta} {first_name} {alpha|x} {zeta} {x.__class__}") == ["alpha", "zeta"]


def test_given_only_known_placeholders_then_none_are_unknown():
    assert unknown_placeholders("Hi {first_name|there}, {code} until {valid_until}") == []


# --- escaping ----------------------------------------------------------------------------------


def test_given_html_mode_then_values_are_escaped():
    rendered = render("<p>Hi {first_name}</p>", {"first_name": '<script>alert("x")</script>'}, as_html=True)

    assert rendered == "<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"


def test_given_html_mode_then_the_template_markup_itself_is_kept():
    assert render(
        '<a href="{deep_link}">Go</a>', {"deep_link": "https://x.example/?a=1&b=2"}, as_html=True
    ) == ('<a href="https://x.example/?a=1&amp;b=2">Go</a>')


def test_given_html_mode_then_a_fallback_is_escaped_too():
    assert render("{first_name|<friend>}", {}, as_html=True) == "&lt;friend&gt;"


def test_given_text_mode_then_values_are_not_escaped():
    assert render("Hi {first_name}", {"first_name": "Tom & <Jerry>"}) == "Hi Tom & <Jerry>"


# --- truncation --------------------------------------------------------------------------------


def test_given_a_short_text_then_it_is_unchanged_apart_from_whitespace():
    assert truncate("  coffee   20%\n off ", 160) == "coffee 20% off"


def test_given_a_text_of_exactly_the_limit_then_it_is_unchanged():
    text = "x" * 160

    assert truncate(text, 160) == text


def test_given_a_long_text_then_it_is_cut_on_a_word_boundary_with_an_ellipsis_within_160():
    words = [f"word{i}" for i in range(60)]
    text = " ".join(words)

    cut = truncate(text, 160)

    assert len(cut) <= 160 and cut.endswith("…")
    kept = cut[:-1]
    assert text.startswith(kept) and text[len(kept)] == " "  # the cut ends a whole word
    assert kept.split(" ") == words[: len(kept.split(" "))]
    assert len(cut) > 150  # and does not throw away more than the last partial word


def test_given_one_long_word_then_it_is_cut_hard_with_an_ellipsis():
    cut = truncate("x" * 500, 160)

    assert cut == "x" * 159 + "…" and len(cut) == 160
