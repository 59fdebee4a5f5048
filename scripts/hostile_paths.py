"""Run each probe of issue 20 through the real `brushwork` command and print the markdown table
in docs/reliability.md ("Every path a user takes"): the command, its exit status and the one
line it printed.

    python scripts/hostile_paths.py > /tmp/table.md

Each probe runs in a fresh temporary folder; nothing outside it is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, PngImagePlugin

from brushwork import examples, images

CONTENT, STYLE = str(examples.CONTENT), str(examples.STARRY_NIGHT)
FAST = ["--size", "64", "--steps", "2", "--device", "cpu"]


def hostile_png(path: Path, text: str) -> str:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(images.METADATA_KEY, text)
    Image.open(CONTENT).resize((64, 48)).save(path, pnginfo=info)
    return str(path)


def jobs(folder: Path, *lines: dict) -> str:
    path = folder / "jobs.jsonl"
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    return str(path)


def probes(d: Path):
    """(what, argv) for each probe; argv may refer to files made in `d`."""
    job = {"content": CONTENT, "styles": [STYLE]}
    (d / "notes.txt").write_text("the user's notes")
    yield "a job's output outside -o", ["batch", "--jobs", jobs(d, {**job, "output": "../notes.txt"}), "-o", str(d / "out"), *FAST]
    yield "an absolute output", ["batch", "--jobs", jobs(d, {**job, "output": "/tmp/x.png"}), "-o", str(d / "out"), *FAST]
    yield "two jobs, one output", ["batch", "--jobs", jobs(d, {**job, "output": "same.png"}, {**job, "output": "./same.png"}), "-o", str(d / "out"), *FAST]
    yield "settings that are a list", ["batch", "--jobs", jobs(d, {**job, "settings": [1]}), "-o", str(d / "out"), *FAST]
    yield "a misspelt setting", ["batch", "--jobs", jobs(d, {**job, "settings": {"style_wieght": 5}}), "-o", str(d / "out"), *FAST]
    yield "content that is not a string", ["batch", "--jobs", jobs(d, {"content": 5, "styles": [STYLE]}), "-o", str(d / "out"), *FAST]
    yield "an output named .txt", ["batch", "--jobs", jobs(d, {**job, "output": "x.txt"}), "-o", str(d / "out"), *FAST]
    (d / "file").write_text("x")
    yield "-o under a file", ["batch", CONTENT, "--styles", STYLE, "-o", str(d / "file" / "out"), *FAST]
    photo = d / "photo.jpg"
    Image.open(CONTENT).save(photo)
    yield "-o is the photo", ["stylize", str(photo), STYLE, "-o", str(d / "." / "photo.jpg"), *FAST]
    yield "more workers x threads than CPUs", ["batch", CONTENT, "--styles", STYLE, "-o", str(d / "o"), *FAST, "--backend", "ray", "--workers", str(os.cpu_count()), "--threads", "2"]
    for name, text in [("JSON nested 100,000 deep", "[" * 100_000 + "]" * 100_000),
                       ("a 5,000-digit number", '{"settings": {"size": ' + "9" * 5000 + "}}"),
                       ("a list as the record", "[1, 2]"),
                       ('"settings" a list', '{"settings": [1]}')]:
        bad = hostile_png(d / f"bad{len(name)}.png", text)
        yield f"`info` on a record of {name}", ["info", bad]
    bad = hostile_png(d / "bad.png", '{"settings": {"device": 7}}')
    yield "`--settings-from` a damaged record", ["stylize", "--settings-from", bad, CONTENT, STYLE, "-o", str(d / "o.png"), *FAST]
    yield "`app --server.port` with no value", ["app", "--server.port"]
    src = d / "mixed"
    src.mkdir()
    Image.new("RGB", (64, 48)).save(src / "f1.png")
    Image.new("RGB", (48, 64)).save(src / "f2.png")
    yield "frames of mixed sizes", ["video", str(src), STYLE, "-o", str(d / "o.mp4"), *FAST]
    frames = d / "painted-frames"
    frames.mkdir()
    Image.new("RGB", (8, 8)).save(frames / "frame_000000.png")
    from fractions import Fraction

    from brushwork import videoio

    clip = videoio.write_mp4(examples.pan_clip(3, (64, 48)), d / "clip.mp4", Fraction(24))
    yield "a user's file in the frame folder", ["video", str(clip), STYLE, "-o", str(d / "painted.mp4"), *FAST]
    yield "-o is the input clip", ["video", str(clip), STYLE, "-o", str(clip), *FAST]


def main() -> None:
    print("| probe | exit | what brushwork says |")
    print("|---|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for what, argv in probes(d):
            run = subprocess.run([sys.executable, "-m", "brushwork", *argv], capture_output=True,
                                 text=True, timeout=600, cwd=d)
            line = (run.stderr.strip().splitlines() or [""])[-1].replace(tmp, "DIR")
            line = line.replace(str(examples.FOLDER), "EXAMPLES")
            print(f"| {what} | {run.returncode} | `{line}` |", flush=True)


if __name__ == "__main__":
    main()
