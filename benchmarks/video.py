"""Video without flicker: warping error, time per frame and loss per frame (docs/video.md).

    python benchmarks/video.py                       # 12 frames at 256 and 512 px
    python benchmarks/video.py --sizes 256 --weights 0 100 300 1000 --frames 8

The clip is a pan and zoom across the bundled Tübingen photo (brushwork.examples.pan_clip), so
its motion is smooth and known. For each size it paints the clip frame by frame with
--temporal-weight 0 (each frame a still run: the flickering baseline) and with each temporal
weight, and prints:

- E_warp, Lai et al.'s warping error, for the input clip, the baseline and ours, twice: with
  flow and occlusions from the input frames by Farneback's method (not the DIS flow the loss
  uses), as Lai et al. measure, and with the clip's true motion (examples.pan_flow), which is
  exact where Farneback errs by about 0.35 px;
- seconds for the first frame and per later frame, and the later frames' cost against a still
  run of the same frame (the baseline's frames), and the optical flow's share of the time;
- the later frames' mean style and content loss against the baseline's on the same frames.

Run it alone on the machine: other work on the CPU changes the times.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from PIL import Image

import brushwork
from brushwork import examples, flow, video
from brushwork import load_model


class _Shown:
    """A saved picture where a Frame record is expected (its image() only)."""

    def __init__(self, im) -> None:
        self.im = im

    def image(self):
        return self.im


def paint(clip, settings, vsettings, model):
    frames = list(brushwork.iter_stylize_video(clip, examples.STARRY_NIGHT, settings, vsettings,
                                               model=model))
    return frames


def main() -> None:
    """The whole measurement, top to bottom: a script reads best as one function."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--weights", type=float, nargs="+",
                   default=[brushwork.VideoSettings().temporal_weight])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--ray-workers", type=int, default=0, metavar="N",
                   help="also paint the clip in N runs on a local Ray (brushwork video --backend "
                        "ray) and compare E_warp across the runs' seams with elsewhere")
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--baseline-from", metavar="DIR", help="reuse the per-frame run a --save of "
                   "the same clip and size wrote (its frames and figures) instead of painting it "
                   "again: it does not depend on the temporal settings")
    p.add_argument("--save", metavar="DIR", help="also write every frame of the input, the "
                   "baseline and each weight there as PNGs (scripts/video_gallery.py uses them)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"clip: {args.frames} frames of a pan and zoom across tubingen.jpg, style: "
          f"starry_night.jpg, cpu, {args.threads} threads; defaults otherwise\n")
    print("| size | run | E_warp (Farneback / true flow) | vs per-frame | first frame s | later s/frame | later vs still "
          "| flow share | style (later) | content (later) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        settings = brushwork.Settings(size=size, device="cpu")
        model = load_model(settings)
        clip = examples.pan_clip(args.frames, video.frame_size((4, 3), settings))
        inputs = [np.asarray(im) for im in clip]
        name = f"{clip[0].width}x{clip[0].height}"
        true = [(examples.pan_flow(t, t + 1, clip[0].size), examples.pan_flow(t + 1, t, clip[0].size))
                for t in range(len(clip) - 1)]

        def e_warp(frames):
            out = [np.asarray(f.image()) for f in frames] if frames[0] is not None else inputs
            return flow.warping_error(out, inputs), flow.warping_error(out, inputs, true)

        print(f"| {name} | input clip | {'%.5f / %.5f' % e_warp([None])} | | | | | | | |",
              flush=True)
        save = (lambda name, ims: _save(args.save, f"{name}-{size}", ims)) if args.save else (
            lambda name, ims: None)
        save("input", clip)
        if args.baseline_from:
            stats = json.loads((Path(args.baseline_from) / f"per-frame-{size}.json").read_text())
            pictures = [Image.open(p) for p in sorted(
                (Path(args.baseline_from) / f"per-frame-{size}").glob("frame_*.png"))]
        else:
            base = paint(clip, settings, brushwork.VideoSettings(temporal_weight=0), model)
            pictures = [f.image() for f in base]
            stats = {"first": base[0].seconds, "still": float(np.mean([f.seconds for f in base])),
                     "style": float(np.mean([f.step.losses["style"] for f in base[1:]])),
                     "content": float(np.mean([f.step.losses["content"] for f in base[1:]]))}
            save("per-frame", pictures)
            if args.save:
                (Path(args.save) / f"per-frame-{size}.json").write_text(json.dumps(stats))
        assert len(pictures) == len(clip)
        base_warp, base_true = e_warp([_Shown(im) for im in pictures])
        still_s, style0, content0 = stats["still"], stats["style"], stats["content"]
        print(f"| {name} | per-frame (--temporal-weight 0) | {base_warp:.5f} / {base_true:.5f} "
              f"| 1 / 1 | {stats['first']:.1f} "
              f"| {still_s:.1f} | 1 | | {style0:.3f} | {content0:.3f} |", flush=True)
        for w in args.weights:
            if w == 0:
                continue
            ours = paint(clip, settings, brushwork.VideoSettings(temporal_weight=w), model)
            save(f"temporal{w:g}", [f.image() for f in ours])
            warp, warp_true = e_warp(ours)
            later = ours[1:]
            per = float(np.mean([f.seconds for f in later]))
            share = sum(f.flow_seconds for f in later) / sum(f.seconds for f in later)
            style = np.mean([f.step.losses["style"] for f in later])
            content = np.mean([f.step.losses["content"] for f in later])
            steps = np.mean([f.step.step for f in later])
            print(f"| {name} | temporal weight {w:g} ({steps:.0f} steps/frame) | {warp:.5f} / "
                  f"{warp_true:.5f} | {warp / base_warp:.2f} / {warp_true / base_true:.2f} | "
                  f"{ours[0].seconds:.1f} | {per:.1f} | "
                  f"{per / still_s:.2f} | {share:.1%} | {style:.3f} ({style / style0 - 1:+.0%}) "
                  f"| {content:.3f} ({content / content0 - 1:+.0%}) |", flush=True)
        if args.ray_workers:
            print("\n| size | run | E_warp (true flow), worst pair at a seam | elsewhere | ratio |")
            print("|---|---|---:|---:|---:|")
            seams(clip, settings, args.ray_workers, args.warmup, true)


def _save(folder: str, name: str, pictures) -> None:
    from pathlib import Path

    out = Path(folder) / name
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(pictures):
        im.save(out / f"frame_{i:06d}.png")


def seams(clip, settings, workers: int, warmup: int, true) -> None:
    """E_warp (true flow) of each pair of frames when the clip is painted in `workers` runs on
    Ray: the pairs across a seam against the rest, with and without the cross-fade."""
    import io
    import tempfile
    from fractions import Fraction

    from brushwork import batch, cluster, videoio

    w = brushwork.VideoSettings()
    with tempfile.TemporaryDirectory() as tmp:
        path = videoio.write_mp4(clip, f"{tmp}/clip.mp4", Fraction(24))
        # Compare against the clip as the workers read it (H.264 is lossy).
        decoded = [np.asarray(im) for _, im in videoio.read_frames(videoio.probe(path))]
        buf = io.BytesIO()
        examples_style = brushwork.load_image(examples.STARRY_NIGHT)
        examples_style.save(buf, "PNG")
        runs = batch.frame_runs(str(path), 0, len(clip), workers, warmup)
        # Pairs (k, k+1) near a seam: from entering the overlap to leaving it.
        near = [set(range(max(0, r.keep - warmup - 1), r.keep)) for r in runs[1:]]
        raw: dict = {}
        dropped = [np.asarray(im) for _, im, *_ in batch.paint_video(
            str(path), [buf.getvalue()], settings, w, 0, len(clip), workers=workers,
            warmup=warmup, threads=1, blend=False, raw=raw)]
        faded = [np.asarray(im) for i in range(len(runs))
                 for _, im, *_ in cluster.blended(runs, raw, i, True)]
        for name, frames in (("warm-up dropped", dropped), ("cross-faded", faded)):
            errs = flow.warping_errors(frames, decoded, true)
            at = [max(errs[k] for k in seam) for seam in near]  # the worst pair at each seam
            rest = [e for k, e in enumerate(errs) if not any(k in seam for seam in near)]
            print(f"| {clip[0].width}x{clip[0].height} | {workers} Ray runs, warm-up {warmup}, "
                  f"{name} | {np.mean(at):.5f} | {np.mean(rest):.5f} | "
                  f"{np.mean(at) / np.mean(rest):.2f}x |", flush=True)


if __name__ == "__main__":
    main()
