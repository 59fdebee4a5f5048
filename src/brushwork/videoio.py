"""Video frames in and out: any video PyAV decodes, or a folder of numbered images; H.264 MP4
out with the frame rate kept exactly and the audio carried over.

PyAV is imported where used (pip install 'brushwork[video]'). Every problem with an input is an
`InputError` naming it, raised before any painting starts.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from . import images, optional, records
from .errors import InputError, short

# A folder of images has no frame rate of its own: this one unless --fps says otherwise.
FOLDER_FPS = Fraction(25)
# H.264 quality: the constant rate factor libx264 calls visually near-lossless.
CRF = 18
METADATA_KEY = "comment"  # the MP4 tag that carries the run's record
# What a video's header may declare: far beyond any clip worth painting on one machine.
MAX_FRAMES = 200_000
MAX_SECONDS = 6 * 3600
VFR_CLOCK = Fraction(1, 90000)  # the time stamps' unit for a variable frame rate (MPEG's clock)


def _av():
    return optional.require("av", "video", "video")


@dataclass(frozen=True)
class VideoInfo:
    """What a video input is: its frame size (after rotation), frame rate, frame count when the
    container says (None otherwise) and whether it has sound."""

    path: Path
    size: tuple[int, int]
    rate: Fraction
    frames: int | None
    audio: bool
    folder: bool
    # Each frame's time in seconds from the first, for a variable-frame-rate video (frames that
    # do not fall on the average rate's grid); None when the frames are evenly spaced.
    times: tuple[Fraction, ...] | None = None

    @property
    def name(self) -> str:
        return f"video {self.path}"


def numbered(folder: Path) -> list[Path]:
    """The folder's images in the order of the last number in their names."""
    files = [p for p in folder.iterdir()
             if p.suffix.lower() in images.IMAGE_SUFFIXES and p.is_file()]

    def key(p: Path):
        numbers = re.findall(r"\d+", p.stem)
        return (int(numbers[-1]) if numbers else -1, p.name)

    return sorted(files, key=key)


def probe(path: str | os.PathLike, fps: Fraction | None = None) -> VideoInfo:
    """Open a video or a folder of numbered images and describe it; InputError if unusable."""
    p = Path(path)
    name = f"video {p}"
    if not p.exists():
        raise InputError(name, "does not exist", "check the path")
    if p.is_dir():
        files = numbered(p)
        if not files:
            raise InputError(name, "is a folder with no images (zero frames)",
                             "give a video file or a folder of numbered PNG or JPEG frames")
        size = _same_size(name, files)
        _check_pixels(name, *size)
        images.load_image(files[0], name=f"{name}: {files[0].name}")  # a readable first frame
        return VideoInfo(p, size, fps or FOLDER_FPS, len(files), False, True)
    av = _av()
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise InputError(name, "has no video stream", "give a file with pictures in it")
            stream = container.streams.video[0]
            rate = fps or stream.average_rate or stream.guessed_rate
            if not rate:
                raise InputError(name, "has no frame rate", "give one with --fps")
            # What the header declares, checked before a frame is decoded: a small file can
            # declare frames that take gigabytes to decode.
            _check_pixels(name, stream.codec_context.width, stream.codec_context.height)
            _check_length(name, stream.frames, container.duration)
            times = None if fps else _times(container, stream, Fraction(rate))
        with av.open(str(p)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            if frame is None:
                raise InputError(name, "has zero frames", "give a video with at least one frame")
            w, h = _rotated(frame).size
            _check_pixels(name, w, h)
            return VideoInfo(p, (w, h), Fraction(rate), stream.frames or None,
                             bool(container.streams.audio), False, times)
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError, StopIteration) as e:
        raise InputError(name, f"is not a video brushwork can read ({short(e)})",
                         "give an MP4, MOV, MKV, WebM or AVI file, or a folder of frames") from None


def _same_size(name: str, files: list[Path]) -> tuple[int, int]:
    """The frames' common size, read from each file's header; mixed sizes are refused (fitting
    each would squash some or move the flow's pixels)."""
    first = None
    for f in files:
        try:
            with Image.open(f) as im:
                size = im.size
        except (OSError, ValueError, Image.DecompressionBombError):
            raise InputError(f"{name}: {f.name}", "is not an image brushwork can read",
                             "remove it or replace it with a PNG or JPEG frame") from None
        if first is None:
            first = (f, size)
        elif size != first[1]:
            raise InputError(name, f"holds frames of mixed sizes: {f.name} is "
                             f"{size[0]}x{size[1]}, {first[0].name} is {first[1][0]}x{first[1][1]}",
                             "resize every frame to one size")
    assert first is not None
    return first[1]


def _check_length(name: str, frames: int, duration: int | None) -> None:
    """Frame count and duration (microseconds) as the header declares them."""
    if frames and frames > MAX_FRAMES:
        raise InputError(name, f"declares {frames} frames, over the {MAX_FRAMES} limit",
                         "cut it shorter first, or choose frames with --frames on a shorter copy")
    if duration and duration / 1e6 > MAX_SECONDS:
        raise InputError(name, f"declares {duration / 3.6e9:.1f} hours, over the "
                         f"{MAX_SECONDS // 3600} hour limit", "cut it shorter first")


def _times(container, stream, rate: Fraction) -> tuple[Fraction, ...] | None:
    """Every frame's time from the packets' time stamps (no decoding), or None when they fall
    on the `rate` grid (a constant-rate video, written back as it was)."""
    base = stream.time_base
    if base is None:
        return None
    stamps = sorted(pkt.pts for pkt in container.demux(stream) if pkt.pts is not None)
    if len(stamps) < 2:
        return None
    times = tuple(Fraction(t - stamps[0]) * base for t in stamps)
    if all(abs(t - i / rate) < 1 / (4 * rate) for i, t in enumerate(times)):
        return None
    return times


def _check_pixels(name: str, w: int, h: int) -> None:
    cap = images.MAX_PIXELS
    if w * h > cap:
        raise InputError(name, f"its {w}x{h} frames are {w * h / 1e6:.0f} megapixels, over the "
                         f"{cap / 1e6:.0f} MP limit", "downscale it first")


def _rotated(frame) -> Image.Image:
    """A decoded frame as RGB, turned as its display matrix says (a phone's portrait video)."""
    im = frame.to_image()
    turns = {90: Image.Transpose.ROTATE_90, -90: Image.Transpose.ROTATE_270,
             180: Image.Transpose.ROTATE_180, -180: Image.Transpose.ROTATE_180}
    angle = round(getattr(frame, "rotation", 0) or 0)
    return im.transpose(turns[angle]) if angle in turns else im


def read_frames(info: VideoInfo, start: int = 0,
                end: int | None = None) -> Iterator[tuple[int, Image.Image]]:
    """(index, RGB frame) for frames start <= index < end, in order."""
    if info.folder:
        for i, f in enumerate(numbered(info.path)):
            if i >= start and (end is None or i < end):
                yield i, images.load_image(f, name=f"{info.name}: {f.name}")
        return
    av = _av()
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for i, frame in enumerate(container.decode(stream)):
                if end is not None and i >= end:
                    break
                if i >= start:
                    yield i, _rotated(frame)
        except av.FFmpegError as e:
            raise InputError(info.name, f"is damaged after frame {i} ({short(e)})",
                             "re-encode it, or choose earlier frames with --frames") from None


def write_mp4(frames: Iterable[Image.Image], out: str | os.PathLike, rate: Fraction,
              audio: VideoInfo | None = None, start: int = 0, record: dict | None = None,
              times: Sequence[Fraction] | None = None) -> Path:
    """Encode frames as H.264 MP4 (yuv420p) at exactly `rate`, atomically: a temporary file in
    the same folder, renamed over `out` once complete.

    With `audio`, that video's sound from frame `start` for as long as the frames last is
    carried over (re-encoded as AAC, which every player reads). `record` goes into the file's
    metadata. `times` (seconds, one per frame) keeps a variable-frame-rate video's timing: each
    frame is stamped with its own time rather than the next tick of `rate`. Frame sizes must be
    even (yuv420p halves the colour planes)."""
    av = _av()
    out, rate = Path(out), Fraction(rate)
    count = 0
    with images.atomic(out, suffix=".mp4") as tmp:
        with av.open(str(tmp), "w", format="mp4") as container:
            if record is not None:
                container.metadata[METADATA_KEY] = json.dumps(record, ensure_ascii=False)
            stream = None
            for im in frames:
                if stream is None:
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height = im.size
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(CRF)}
                    # Time stamps count frames, so the rate is exact (30000/1001 stays so); a
                    # variable rate is stamped in a fine clock instead.
                    stream.codec_context.time_base = 1 / rate if times is None else VFR_CLOCK
                    # MP4 wants every stream before the first packet.
                    sound = _audio_stream(av, audio, container) if audio and audio.audio else None
                frame = av.VideoFrame.from_ndarray(np.asarray(im.convert("RGB")), format="rgb24")
                frame.pts = count if times is None else round(
                    (Fraction(times[count]) - Fraction(times[0])) / VFR_CLOCK)
                container.mux(stream.encode(frame))
                count += 1
            if stream is None:
                raise ValueError("no frames to write")
            container.mux(stream.encode(None))
            if sound is not None:
                t0 = Fraction(times[0]) if times is not None else Fraction(start) / rate
                t1 = (Fraction(start + count) / rate if times is None
                      else Fraction(times[count - 1]) + 1 / rate)
                _copy_audio(av, audio, container, sound, t0, t1)
    return out


def _audio_stream(av, info: VideoInfo, container):
    """An AAC stream in `container` with the sample rate and channels of the input's sound."""
    with av.open(str(info.path)) as source:
        a = source.streams.audio[0].codec_context
        out = container.add_stream("aac", rate=a.sample_rate or 48000)
        out.layout = a.layout.name if a.layout and a.layout.nb_channels <= 2 else "stereo"
    return out


def _copy_audio(av, info: VideoInfo, container, out, t0: Fraction, t1: Fraction) -> None:
    """The input's first audio track between t0 and t1 seconds, into `out` from time 0."""
    with av.open(str(info.path)) as source:
        a = source.streams.audio[0]
        size = out.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format="fltp", layout=out.layout, rate=out.rate)
        # AAC takes frames of exactly `size` samples; the cut at t0 and t1 leaves partial ones.
        fifo = av.AudioFifo()
        rate, written, seen = out.rate, 0, None
        first, last = int(t0 * rate), int(t1 * rate)
        for frame in source.decode(a):
            for f in resampler.resample(frame):
                at = int(round(f.time * rate)) if f.time is not None else (seen or 0)
                seen = at + f.samples
                keep = f.to_ndarray()[:, max(0, first - at): max(0, last - at)]
                if keep.shape[1] == 0:
                    continue
                g = av.AudioFrame.from_ndarray(np.ascontiguousarray(keep), format="fltp",
                                               layout=out.layout)
                g.sample_rate, g.pts = rate, written
                written += keep.shape[1]
                fifo.write(g)
                while fifo.samples >= size:
                    container.mux(out.encode(fifo.read(size)))
        if fifo.samples:
            container.mux(out.encode(fifo.read()))
        container.mux(out.encode(None))


def read_record(path: str | os.PathLike, name: str | None = None) -> dict | None:
    """The run record a brushwork MP4 carries (checked as untrusted input: a damaged one is an
    InputError naming `name`), or None when it carries none."""
    av = _av()
    try:
        with av.open(str(path)) as container:
            text = container.metadata.get(METADATA_KEY)
    except (av.FFmpegError, OSError):
        return None
    return records.parse(text, name or str(path)) if text else None


def even_size(width: int, height: int, longer: int) -> tuple[int, int]:
    """The frame size for a longer side: the aspect kept, each side even (yuv420p needs it)."""
    w, h = images.fit_size(width, height, longer)
    return max(2, w - w % 2), max(2, h - h % 2)
