"""Bundle test helpers: the console script in-process, and rewriting a bundle as someone tampering would."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

from collector.cli import main


def cli(*args: str) -> tuple[int, str, str]:
    """Run `evidence-agent ARGS` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["evidence-agent", *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def read_lines(zf: zipfile.ZipFile, name: str) -> list[dict]:
    return [json.loads(line) for line in zf.read(name).decode().splitlines() if line]


def rewrite(src: Path, dst: Path, changes: dict[str, bytes | None], *, reseal: bool = False) -> None:
    """Copy a bundle, replacing (bytes) or deleting (None) members. With `reseal`, also rewrite the manifest's
    file list and SHA256SUMS to match, as someone covering their tracks would (the signature cannot follow)."""
    with zipfile.ZipFile(src) as zin:
        members = {name: changes.get(name, zin.read(name)) for name in zin.namelist()}
    kept = {name: data for name, data in members.items() if data is not None}
    if reseal:
        manifest = json.loads(kept["manifest.json"])
        manifest["files"] = [{"path": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                             for n, d in sorted(kept.items())
                             if n not in ("manifest.json", "manifest.json.sig", "SHA256SUMS")]  # fmt: skip
        kept["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        kept["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(kept.items())
                                     if n != "SHA256SUMS").encode()  # fmt: skip
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in kept.items():
            zout.writestr(name, data)
