"""Colours of badges and charts (issue 28, WCAG 1.4.3 and 1.4.11): every state and SLA badge's words stand out 4.5:1
against its own background; every chart colour stands out 3:1 against the white panel it is drawn on. The badges
also carry their words, so colour is never the only sign (WCAG 1.4.1)."""

import re
from pathlib import Path

from tickets.queues.views import PALETTE, SLA_COLORS

STATIC = Path(__file__).resolve().parents[2] / "static"
SHEETS = [STATIC / "css" / "exitdesk.css", STATIC / "css" / "admin-desk.css", STATIC / "queues" / "queues.css"]
BADGE = re.compile(r"^\s*([^{]*\.(?:desk-state|desk-sla|state|sla)-[a-z_]+[^{]*)\{([^}]*)\}", re.MULTILINE)


def luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of a #rrggbb colour."""
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def variables(css: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))


def badges() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) of every state and SLA badge rule in the stylesheets."""
    found = []
    for sheet in SHEETS:
        css = sheet.read_text()
        names = variables(css)
        for selector, body in BADGE.findall(css):
            colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6}|var\(--[a-z-]+\))", body)
            background = re.search(r"background:\s*(#[0-9a-fA-F]{6})", body)
            if colour and background:
                text = colour.group(1)
                text = names[text[6:-1]] if text.startswith("var(") else text
                found.append((selector.strip(), text, background.group(1)))
    return found


def test_every_badge_s_words_stand_out_4_5_to_1():
    # SPEC §6 accessibility: badge colours meet 4.5:1 for their text
    found = badges()
    assert len(found) >= 15, found  # the desk's states and SLAs, the queues' SLAs, the portal's states
    weak = [(selector, round(contrast(text, bg), 2)) for selector, text, bg in found if contrast(text, bg) < 4.5]
    assert weak == []


def test_every_chart_colour_stands_out_3_to_1_on_white():
    # SPEC §6 accessibility: chart colours meet 3:1 as graphics (bars and legend swatches on the white panel)
    colours = PALETTE + list(SLA_COLORS.values())
    weak = [(colour, round(contrast(colour, "#ffffff"), 2)) for colour in colours if contrast(colour, "#ffffff") < 3]
    assert len(colours) == 12 and weak == []
