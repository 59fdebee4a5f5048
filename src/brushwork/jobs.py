"""The jobs of a batch: one photo, its paintings, its own setting overrides and its output's
name each; read from folders, globs or a JSON-lines file, and checked before any work (an output
outside the output folder, two jobs writing one file, an unknown setting: one line naming it).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import images, records
from .errors import InputError
from .settings import Settings, check_keys


@dataclass(frozen=True)
class Job:
    """One picture to paint: a photo, its paintings, setting overrides, and the output's name."""

    content: str
    styles: tuple[str, ...]
    output: str  # file name inside the output folder
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, base: Settings) -> Settings:
        """The batch's settings with this job's own overrides."""
        return base.with_options(self.overrides)

    def read(self) -> tuple[bytes, list[bytes]]:
        """The photo's and paintings' bytes; InputError naming one that cannot be read."""
        return (images.read_file(self.content, f"content image {self.content}"),
                [images.read_file(s, f"style image {s}") for s in self.styles])

    def record(self, base: Settings, data: tuple[bytes, list[bytes]] | None = None) -> dict:
        """What the job's output carries: version, settings, the inputs' names and hashes."""
        content, styles = data or self.read()
        return records.run_record(self.settings(base),
                                  records.file_record(Path(self.content).name, content),
                                  [records.file_record(Path(p).name, d)
                                   for p, d in zip(self.styles, styles)])


@dataclass(frozen=True)
class Result:
    """How a job ended: "done", "skipped" (its output was already there) or "failed"."""

    job: Job
    status: str
    path: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    worker: str = ""  # host:pid of the process that painted it


def expand(inputs: Sequence[str], what: str) -> list[str]:
    """Files, folders (their images, sorted) and globs, in the order given."""
    out: list[str] = []
    for item in inputs:
        if any(c in item for c in "*?["):
            found = sorted(glob.glob(item))
            if not found:
                raise InputError(f"{what} {item}", "matches no files", "check the pattern")
            out += found
        elif Path(item).is_dir():
            found = sorted(str(p) for p in Path(item).iterdir()
                           if p.suffix.lower() in images.IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{what} {item}", "is a folder with no images", "give image files")
            out += found
        else:
            out.append(item)  # a missing file fails as its own job, with its reason
    return out


def output_name(content: str, styles: Sequence[str]) -> str:
    """<content>__<style>.png (styles joined by +)."""
    return f"{Path(content).stem}__{'+'.join(Path(s).stem for s in styles)}.png"


def pairs(contents: Sequence[str], styles: Sequence[str]) -> list[Job]:
    """Every photo with every painting."""
    return unique([Job(c, (s,), output_name(c, [s])) for c in contents for s in styles])


def read_jobs(path: str | os.PathLike) -> list[Job]:
    """Jobs from a JSON-lines file: {"content": ..., "styles": [...], "settings": {...},
    "output": optional name}. Relative paths are relative to the file. Everything a job says is
    checked here, before any work: a bad line is one InputError naming its line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise InputError(f"--jobs {p}", f"cannot be read ({why})", "check the path") from None
    jobs: list[tuple[int, Job, bool]] = []  # (line, job, output named by the line)
    for n, line in enumerate(lines, start=1):
        if line.strip():
            jobs.append(_job(line, f"--jobs {p} line {n}", p.parent) + (n,))
    if not jobs:
        raise InputError(f"--jobs {p}", "holds no jobs", "write one JSON job per line")
    named: dict[str, int] = {}
    for job, explicit, n in jobs:
        if explicit:
            key = os.path.normcase(job.output)
            if key in named:
                raise InputError(f"--jobs {p} lines {named[key]} and {n}", f"both write {job.output}",
                                 "give each job its own output")
            named[key] = n
    return unique([job for job, _, _ in jobs], [own for _, own, _ in jobs])


def _job(line: str, where: str, folder: Path) -> tuple[Job, bool]:
    """One line of a jobs file as a Job, and whether it named its output."""
    example = '{"content": "photo.jpg", "styles": ["painting.jpg"]}'
    try:
        d = json.loads(line)
    except (ValueError, RecursionError):
        raise InputError(where, "is not JSON", f"write e.g. {example}") from None
    if not isinstance(d, dict) or "content" not in d or "styles" not in d:
        raise InputError(where, "is not a job", f"write e.g. {example}")
    unknown = set(d) - {"content", "styles", "settings", "output", "error"}
    if unknown:  # "error" is what failures.jsonl adds: retrying it reads it back as jobs
        raise InputError(where, f"unknown key {sorted(unknown)[0]!r}",
                         "use content, styles, settings and output")
    content, styles = d["content"], d["styles"]
    styles = styles if isinstance(styles, list) else [styles]
    if not isinstance(content, str) or not content or not styles or not all(
            isinstance(s, str) and s for s in styles):
        raise InputError(where, "content and styles must be file names",
                         f"write e.g. {example}")
    overrides = d.get("settings") or {}
    check_keys(overrides, f"{where} settings")
    try:  # refuse bad values up front, naming the line and the field
        Settings().with_options(overrides)
    except InputError as e:
        raise InputError(f"{where} settings {e.what}", e.problem, e.fix) from None
    output = d.get("output")
    if output is not None:
        output = check_output_name(output, where)
    here = lambda f: str(f if Path(f).is_absolute() else folder / f)  # noqa: E731
    return (Job(here(content), tuple(here(s) for s in styles),
                output or output_name(content, styles), dict(overrides)), output is not None)


def check_output_name(output: Any, where: str) -> str:
    """A job's output: a relative path inside the output folder, in a format we write."""
    if not isinstance(output, str) or not output.strip():
        raise InputError(where, "output must be a file name", 'write e.g. "output": "a.png"')
    norm = os.path.normpath(output)
    if os.path.isabs(output) or norm == ".." or norm.startswith(".." + os.sep) or norm == ".":
        raise InputError(where, f"output {output!r} is outside the output folder",
                         "give a relative name such as sub/a.png")
    if Path(norm).suffix.lower() not in images.OUTPUT_FORMATS:
        raise InputError(where, f"output {output!r} has an unknown image extension",
                         "end it with .png, .jpg or .webp")
    return norm


def unique(jobs: list[Job], named: Sequence[bool] | None = None) -> list[Job]:
    """Two photos with one name from different folders get -2, -3 ... rather than one file;
    a generated name never takes one that a job named itself (`named[i]`: job i did)."""
    named = named or [False] * len(jobs)
    taken = {os.path.normcase(j.output) for j, own in zip(jobs, named) if own}
    out = []
    for j, own in zip(jobs, named):
        if own:
            out.append(j)
            continue
        stem, suffix = os.path.splitext(j.output)
        name, n = j.output, 1
        while os.path.normcase(name) in taken:
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(os.path.normcase(name))
        out.append(Job(j.content, j.styles, name, j.overrides) if name != j.output else j)
    return out


def check_outputs(jobs: list[Job], out: Path) -> None:
    """Before any work: every output is a name inside `out`, no two jobs write one file, and no
    job writes over an input of the batch."""
    seen: dict[str, Job] = {}
    inputs = {os.path.realpath(f): f for j in jobs for f in (j.content, *j.styles)}
    for job in jobs:
        check_output_name(job.output, f"job {job.content}")
        key = os.path.normcase(os.path.normpath(job.output))
        if key in seen:
            raise InputError(f"jobs {seen[key].content} and {job.content}",
                             f"both write {job.output}", "give each job its own output")
        seen[key] = job
        target = os.path.realpath(out / job.output)
        if target in inputs:
            raise InputError(f"job {job.content}", f"its output {out / job.output} is the input "
                             f"{inputs[target]}; writing it would replace that file",
                             "choose another -o or output name")


@dataclass(frozen=True)
class FrameRun:
    """Consecutive frames of a video for one worker: it paints start .. end-1, and the frames
    before `keep` are warm-up (painted to come into step with the flow, then blended away)."""

    video: str
    start: int
    keep: int
    end: int
