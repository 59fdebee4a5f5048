"""`brushwork score`: how a stylised picture (ours or another tool's) scores on metrics that are
not our loss: Wang et al. 2021's content fidelity, global effects and local patterns, and the
neural-style yardstick's two distances (brushwork.metrics)."""

from __future__ import annotations

import argparse
import json

from ..errors import InputError
from .common import interruptible, read_image

# LP compares 3x3 patches at relu4_1, an eighth of the size: 64 px leaves it 8x8 positions.
MIN_SIZE, MAX_SIZE = 64, 4096
COLUMNS = ("cf", "ge", "lp", "colour", "texture", "lp1", "lp2", "style_dist", "content_dist")


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "score", help="score stylised pictures against their photo and painting",
        description="Content fidelity CF, global effects GE (colour and texture halves) and "
        "local patterns LP (Wang et al. 2021; higher is better, 1 at most), and the "
        "neural-style yardstick's style and content distances (lower is closer), on the bundled "
        "Caffe VGG-19. Any picture can be scored: ours, neural-style's, another tool's.")
    p.add_argument("pictures", nargs="+", metavar="PICTURE", help="the stylised pictures")
    p.add_argument("--content", required=True, help="the photo they were made from")
    p.add_argument("--style", required=True, help="the painting whose style they took")
    p.add_argument("--size", type=int, default=None,
                   help="longer side the pictures are scored at (default 512, as the paper)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--json", action="store_true", help="one JSON object per picture")


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device  # torch: imported by the commands that need it
    from ..metrics import SIZE, Scorer

    args.size = SIZE if args.size is None else args.size
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise InputError("--size", f"{args.size} is outside {MIN_SIZE}..{MAX_SIZE}",
                         f"score at {SIZE}, the paper's size")
    photo, _ = read_image(args.content, "--content")
    painting, _ = read_image(args.style, "--style")
    pictures = [(path, read_image(path, "picture")[0]) for path in args.pictures]
    scorer = Scorer(resolve_device(args.device))
    if not args.json:
        print("| picture | " + " | ".join(COLUMNS) + " |")
        print("|---|" + "---:|" * len(COLUMNS))
    with interruptible():
        for path, picture in pictures:
            scores = scorer.score(picture, photo, painting, size=args.size).as_dict()
            if args.json:
                print(json.dumps({"picture": path, **scores}), flush=True)
            else:
                print(f"| {path} | " + " | ".join(f"{scores[c]:.3f}" for c in COLUMNS) + " |",
                      flush=True)
    return 0
