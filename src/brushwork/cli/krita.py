"""`brushwork krita-plugin`: the zip that Krita's Tools ▸ Scripts ▸ Import Python Plugin from File
installs. The plug-in's files are package data (src/brushwork/krita_plugin/, in the wheel and
the checkout alike); they are never imported by the library: the plug-in runs in Krita's own
Python and speaks only HTTP to `brushwork serve`. The zip also says which `brushwork` wrote it,
so the docker's "Start brushwork serve" starts that one."""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

from ..errors import InputError

# The plug-in's files, package data beside the library (src/brushwork/cli/krita.py -> ..).
PLUGIN = Path(__file__).resolve().parents[1] / "krita_plugin"
NAME = "brushwork_krita"
# Inside the zip's package: how to start the brushwork that wrote it (read by the docker).
INSTALLED_WITH = "installed_with.json"


def add_parsers(sub) -> None:
    p = sub.add_parser("krita-plugin", help="write the Krita plug-in's zip (install it with "
                       "Krita's Tools > Scripts > Import Python Plugin from File)")
    p.add_argument("-o", "--output", default="brushwork-krita.zip",
                   help="the zip to write (default: %(default)s)")
    p.add_argument("--install", action="store_true",
                   help="also install it into your Krita profile and enable it, as Import "
                        "Python Plugin from File does (then restart Krita)")


def files() -> list[tuple[str, Path]]:
    """(name in the zip, file) of the plug-in: its .desktop and .action files and its package."""
    if not (PLUGIN / f"{NAME}.desktop").is_file():
        raise InputError("krita-plugin", f"the plug-in's files are not at {PLUGIN}",
                         "reinstall brushwork (pip install --force-reinstall brushwork)")
    out = [(f"{NAME}.desktop", PLUGIN / f"{NAME}.desktop"),
           (f"{NAME}.action", PLUGIN / f"{NAME}.action")]
    out += [(f"{NAME}/{p.relative_to(PLUGIN / NAME).as_posix()}", p)
            for p in sorted((PLUGIN / NAME).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts]
    return out


def installed_with() -> dict:
    """How the docker starts this brushwork: this Python with `-m brushwork`, which works from
    a virtualenv, pipx or a checkout alike (a `brushwork` on PATH may be another install)."""
    import sys

    from ..version import __version__

    return {"command": [sys.executable, "-m", "brushwork"], "version": __version__}


def build() -> bytes:
    import json

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in files():
            z.write(path, name)
        z.writestr(f"{NAME}/{INSTALLED_WITH}", json.dumps(installed_with(), indent=1))
    return buf.getvalue()


def krita_data() -> Path:
    """Krita's resource folder: $XDG_DATA_HOME/krita (~/.local/share/krita) on Linux,
    ~/Library/Application Support/krita on macOS, %APPDATA%\\krita on Windows."""
    import os
    import sys

    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "krita"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "krita"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "krita"


def kritarc() -> Path:
    """Krita's settings file (where a Python plug-in is enabled)."""
    import os
    import sys

    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "kritarc"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Preferences" / "kritarc"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "kritarc"


def install(data: bytes) -> Path:
    """The zip laid out as Krita's importer does (the package and .desktop under pykrita/, the
    .action under actions/) and the plug-in enabled in kritarc; returns the pykrita folder."""
    import configparser
    import io
    import zipfile

    base = krita_data()
    pykrita, actions = base / "pykrita", base / "actions"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            target = (actions if name.endswith(".action") else pykrita) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
    rc = kritarc()
    config = configparser.RawConfigParser(strict=False, interpolation=None)
    config.optionxform = str  # Krita's keys are case-sensitive
    if rc.exists():
        config.read(rc, encoding="utf-8")
    if not config.has_section("python"):
        config.add_section("python")
    config.set("python", f"enable_{NAME}", "true")
    rc.parent.mkdir(parents=True, exist_ok=True)
    with open(rc, "w", encoding="utf-8") as f:
        config.write(f, space_around_delimiters=False)
    return pykrita


def run(args: argparse.Namespace) -> int:
    from .. import images

    out = Path(args.output)
    if out.suffix.lower() != ".zip":
        raise InputError(f"-o {out}", "must end in .zip", "e.g. -o brushwork-krita.zip")
    images.check_writable(out)
    data = build()
    images.write_atomic(out, data)
    if args.install:
        where = install(data)
        print(f"brushwork: wrote {out} and installed it in {where}; restart Krita, then "
              "Settings > Dockers > brushwork")
    else:
        print(f"brushwork: wrote {out}; in Krita: Tools > Scripts > Import Python Plugin from "
              "File, choose it, restart Krita, then Settings > Dockers > brushwork")
    return 0
