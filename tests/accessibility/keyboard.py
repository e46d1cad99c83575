"""Driving a page with the keyboard alone (issue 28): Tab and Shift+Tab to move, Enter and Space to act, and typing
into text fields. Every stop is checked: the focused element shows an outline, and it is not behind anything."""

import re

# What the focused element is called, whether its outline shows, and whether it is the topmost thing at its centre.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const text = s => (s || "").trim().replace(/\\s+/g, " ");
  const name = text((el.labels && el.labels.length && el.labels[0].innerText) || el.getAttribute("aria-label")
    || el.innerText || el.value);
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  // The centre of the element's part inside the window (a tall field is scrolled into view only in part).
  const top = Math.max(rect.top, 0), bottom = Math.min(rect.bottom, window.innerHeight);
  const left = Math.max(rect.left, 0), right = Math.min(rect.right, window.innerWidth);
  const hit = bottom > top && right > left ? document.elementFromPoint((left + right) / 2, (top + bottom) / 2) : null;
  const onTop = !!hit && (hit === el || el.contains(hit) || hit.contains(el)
    || [...(el.labels || [])].some(label => label.contains(hit)));
  return {
    tag: el.tagName.toLowerCase(), type: el.type || "", name: name, checked: !!el.checked, value: el.value || "",
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 ? style.outlineWidth : "",
    onTop: onTop, href: el.getAttribute("href") || "",
  };
}"""


class Keyboard:
    """One page driven by keys; `stops` records every focused element for the assertions after."""

    def __init__(self, page, max_tabs: int = 80) -> None:
        self.page, self.max_tabs = page, max_tabs
        self.problems: list[str] = []
        self.stops = 0

    def focused(self) -> dict | None:
        return self.page.evaluate(FOCUSED)

    def tab(self, backwards: bool = False) -> dict | None:
        self.page.keyboard.press("Shift+Tab" if backwards else "Tab")
        stop = self.focused()
        if stop:
            self.stops += 1
            where = f"{self.page.url} <{stop['tag']}> {stop['name'][:40]!r}"
            if not stop["outline"]:
                self.problems.append(f"no visible focus outline on {where}")
            if not stop["onTop"]:
                self.problems.append(f"focus behind something on {where}")
        return stop

    def tab_to(self, name: str | re.Pattern, *, tag: str | None = None, backwards: bool = False) -> dict:
        """Tab until the focused element's name matches (a regex, or a string it contains)."""
        for _ in range(self.max_tabs):
            stop = self.tab(backwards)
            if stop and (tag is None or stop["tag"] == tag) and _matches(name, stop["name"]):
                return stop
        raise AssertionError(f"Tab never reached {name!r} on {self.page.url}")

    def press(self, name: str | re.Pattern, key: str = "Enter", **kwargs) -> None:
        self.tab_to(name, **kwargs)
        self.page.keyboard.press(key)

    def type_into(self, name: str | re.Pattern, text: str) -> None:
        self.tab_to(name)
        self.page.keyboard.type(text)

    def submit(self, name: str | re.Pattern) -> None:
        """Enter on a button that sends its form: wait for the next page."""
        self.tab_to(name, tag="button")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def follow(self, name: str | re.Pattern) -> None:
        self.tab_to(name, tag="a")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def check_every_box(self, until: str | re.Pattern, until_tag: str = "button") -> int:
        """Space on every unticked checkbox and on the first radio of each untouched group, until `until`."""
        ticked = 0
        for _ in range(self.max_tabs):
            stop = self.tab()
            if not stop:
                continue
            if _matches(until, stop["name"]) and stop["tag"] == until_tag:
                return ticked
            if stop["type"] in {"checkbox", "radio"} and not stop["checked"]:
                self.page.keyboard.press("Space")
                ticked += 1
        raise AssertionError(f"Tab never reached {until!r} on {self.page.url}")


def _matches(wanted: str | re.Pattern, name: str) -> bool:
    return bool(wanted.search(name)) if isinstance(wanted, re.Pattern) else wanted in name
