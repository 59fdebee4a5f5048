"""The bundled example images (see README.md here for their credits)."""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
CONTENT = FOLDER / "tubingen.jpg"
STYLES = {
    "The Starry Night (van Gogh)": FOLDER / "starry_night.jpg",
    "The Scream (Munch)": FOLDER / "the_scream.jpg",
    "The Shipwreck of the Minotaur (Turner)": FOLDER / "shipwreck.jpg",
    "Woman with a Hat (Matisse)": FOLDER / "woman_with_hat_matisse.jpg",
}
STARRY_NIGHT = STYLES["The Starry Night (van Gogh)"]


def all_paths() -> list[Path]:
    return [CONTENT, *STYLES.values()]
