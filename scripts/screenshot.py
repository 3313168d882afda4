"""Render the first screen of a fresh demo database to a PNG (the README's screenshot).

Usage: python scripts/screenshot.py docs/screenshot.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from testkit.browser import make_driver, open_dashboard, running_app


def main(out: str) -> int:
    with tempfile.TemporaryDirectory() as tmp, running_app(Path(tmp) / "wf.sqlite") as base:
        driver = make_driver(1400, 860)
        try:
            open_dashboard(driver, base)  # signs in as the demo watch officer
            WebDriverWait(driver, 60).until(
                lambda d: d.execute_script(
                    "const g=document.querySelector('#map-graph .js-plotly-plot');"
                    "return g && g.data && g.data.length > 3 && "
                    "document.querySelector('canvas.maplibregl-canvas') !== null"
                )
            )
            # Give MapLibre a moment to paint the basemap tiles it builds from the GeoJSON.
            driver.execute_async_script("setTimeout(arguments[0], 2500)")
            driver.save_screenshot(out)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png"))
