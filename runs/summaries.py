"""What a person reads first about a run: the first error, the plan's line.

Pure functions over log text (already masked), shared by the worker, which
keeps the first error of a failed phase on the run (`Run.error_text`), and
by the pages, which show it above the log and on every card of the run.
"""

import re

# Terraform 0.11 prints `Error: ...` (or `Error loading ...`, `Error
# running plan: ...`); 1.x with -no-color prints `Error: <summary>` and an
# indented detail block. Both may be framed by the box-drawing bar of 1.x.
ERROR_LINE = re.compile(r"^(?:[│|╷]\s*)?Error[: ]", re.MULTILINE)
PLAN_LINE = re.compile(
    r"^(?:Plan: \d+ to add, \d+ to change, \d+ to destroy\.|No changes\..*|"
    r"Apply complete! Resources: .*|Destroy complete! Resources: .*)$",
    re.MULTILINE,
)
OWN_LINE = "[atlas] "
MAX_LINES = 12
MAX_CHARS = 2000
HEADLINE_LINES = 3
HEADLINE_CHARS = 300


FRAME = re.compile(r"^[│╷╵] ?")


def _clean(line):
    """The line without the frame Terraform 1.x draws around diagnostics."""
    return FRAME.sub("", line).rstrip()


def first_error(text):
    """The first error block in `text` (up to MAX_LINES lines), or ""."""
    match = ERROR_LINE.search(text)
    if match is None:
        return ""
    lines = []
    for line in text[match.start() :].splitlines():
        if line.startswith(OWN_LINE) or line.startswith("╵"):
            break
        lines.append(_clean(line))
        if len(lines) >= MAX_LINES:
            break
    return "\n".join(lines).strip()[:MAX_CHARS]


def headline(error_text):
    """The first few non-empty lines of an error block, for cards and lists."""
    lines = [line.strip() for line in error_text.splitlines() if line.strip()]
    text = "\n".join(lines[:HEADLINE_LINES])
    return text if len(text) <= HEADLINE_CHARS else text[: HEADLINE_CHARS - 1] + "…"


def result_line(text):
    """The last `Plan: ...`, `No changes.` or `Apply complete! ...` line, or ""."""
    found = PLAN_LINE.findall(text)
    return found[-1] if found else ""
