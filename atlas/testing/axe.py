"""axe-core in a Playwright page: the accessibility violations of our pages.

axe-core's script comes with the `axe-playwright-python` wheel and is
evaluated in the page by Playwright (not loaded from the page, so the
Content-Security-Policy is untouched and nothing is fetched from outside).
"""

from axe_playwright_python.sync_playwright import Axe

# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, regions).
OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}

_axe = Axe()


def violations(page):
    """One line per violation: its rule, its impact and where (at most 3 nodes)."""
    results = _axe.run(page, options=OPTIONS).response["violations"]
    found = []
    for violation in results:
        nodes = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
        found.append(f"{page.url}: {violation['id']} ({violation['impact']}): {nodes}")
    return found
