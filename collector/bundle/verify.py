"""`evidence-agent bundle verify`: check a bundle offline, from the zip alone (no store, no database).

Checks, each reported with what broke:
- checksums: every member against SHA256SUMS, and nothing unlisted;
- manifest: every member against the manifest's size and sha256, and nothing unlisted;
- signature: the detached Ed25519 signature over manifest.json (with --public-key: that key);
- chain: every run's digest recomputed from its lines in runs.jsonl plus the obs lines rebuilt from
  states.jsonl, the period's runs contiguous and linked prev_digest -> digest, the manifest's heads;
- evidence: every evidence line's observed/raw/source hash to its blob and state hashes, and its state
  is one the bundle's runs observed (with its opening, ending and verdict lines where they are in the bundle);
- gaps: each row of gaps.jsonl is a gap line of its run;
- attachments: each file's hash, and the attachment line of the run that sealed it;
- oscal: the assessment-results document parses with compliance-trestle's models, and its back-matter
  hashes match the files.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from collector.bundle import keys, oscal
from collector.bundle.layout import FORMAT, MANIFEST, OSCAL, SIGNATURE, SUMS, UNLISTED
from collector.bundle.reader import Bundle, BundleFormatError, Check, Report
from collector.bundle.verify_chain import check_attachments, check_chain, check_evidence, check_gaps

SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def verify_bundle(path: Path, public_key: Any = None) -> Report:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleFormatError(f"{path}: not a zip file ({exc})") from None
    report = Report(str(path))
    with zf:
        bundle = Bundle(zf)
        checksums = Check("checksums")
        bundle.hash_members(checksums)
        _check_sums(bundle, checksums)
        report.checks.append(checksums)
        manifest_check = Check("manifest")
        manifest = _check_manifest(bundle, manifest_check)
        report.checks.append(manifest_check)
        report.checks.append(_check_signature(bundle, manifest, public_key))
        chain_check = Check("chain")
        chain = check_chain(bundle, manifest, chain_check)
        report.checks.append(chain_check)
        report.checks.append(check_evidence(bundle, manifest, chain))
        report.checks.append(check_gaps(bundle, chain))
        report.checks.append(check_attachments(bundle, chain))
        report.checks.append(_check_oscal(bundle))
    return report


def _check_sums(bundle: Bundle, check: Check) -> None:
    data = bundle.read(SUMS)
    if data is None:
        check.fail(f"{SUMS} is missing")
        return
    listed: dict[str, str] = {}
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        match = SUM_LINE.match(line)
        if not match:
            check.fail(f"{SUMS} line {number}: not '<sha256>  <file>'")
            continue
        listed[match.group(2)] = match.group(1)
    for name, sha in sorted(listed.items()):
        if name not in bundle.hashes:
            if name not in bundle.damaged:
                check.fail(f"{name}: listed in {SUMS} but missing from the bundle")
        elif bundle.hashes[name][1] != sha:
            check.fail(f"{name}: sha256 {bundle.hashes[name][1][:16]}… differs from {SUMS} ({sha[:16]}…)")
    for name in sorted(set(bundle.hashes) - set(listed) - {SUMS}):
        check.fail(f"{name}: in the bundle but not listed in {SUMS}")
    check.summary = f"{len(listed)} files listed in {SUMS}"


def _check_manifest(bundle: Bundle, check: Check) -> dict[str, Any]:
    data = bundle.read(MANIFEST)
    if data is None:
        check.fail(f"{MANIFEST} is missing")
        return {}
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        check.fail(f"{MANIFEST}: not JSON ({exc})")
        return {}
    if manifest.get("format") != FORMAT:
        check.fail(f"{MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    files = {f.get("path"): f for f in manifest.get("files", []) if isinstance(f, dict)}
    for name, entry in sorted(files.items()):
        if name not in bundle.hashes:
            if name not in bundle.damaged:
                check.fail(f"{name}: listed in the manifest but missing from the bundle")
            continue
        size, sha = bundle.hashes[name]
        if sha != entry.get("sha256") or size != entry.get("size"):
            check.fail(f"{name}: does not match the manifest (size {size} vs {entry.get('size')}, sha256 "
                       f"{sha[:16]}… vs {str(entry.get('sha256'))[:16]}…)")  # fmt: skip
    for name in sorted(set(bundle.hashes) - set(files) - set(UNLISTED)):
        check.fail(f"{name}: in the bundle but not in the manifest")
    framework = manifest.get("framework", {})
    period = manifest.get("period", {})
    check.summary = (f"{len(files)} files; {framework.get('id')} from {period.get('from')} to {period.get('to')}; "
                     f"generated {manifest.get('generated', {}).get('at')}")  # fmt: skip
    return manifest


def _check_signature(bundle: Bundle, manifest: dict[str, Any], public_key: Any) -> Check:
    check = Check("signature")
    signature = bundle.read(SIGNATURE)
    declared = manifest.get("signature")
    if signature is None:
        if public_key is not None:
            check.fail("the bundle is not signed, but --public-key was given")
        elif declared:
            check.fail(f"the manifest says the bundle is signed, but {SIGNATURE} is missing")
        check.summary = "not signed"
        return check
    embedded = keys.public_from_pem(declared.get("public_key", "")) if isinstance(declared, dict) else None
    key = public_key or embedded
    if key is None:
        check.fail(f"{SIGNATURE} is present but no public key is given or named in the manifest")
        return check
    manifest_bytes = bundle.read(MANIFEST) or b""
    print_ = keys.fingerprint(key)
    if not keys.valid(key, signature, manifest_bytes):
        check.fail(f"{SIGNATURE}: not a valid Ed25519 signature of {MANIFEST} by key sha256:{print_[:16]}…")
    elif public_key is None:
        check.summary = (f"valid for the key named in the manifest (sha256:{print_[:16]}…); pass --public-key to "
                         "check it is the key you trust")  # fmt: skip
    else:
        check.summary = f"valid for the given public key (sha256:{print_[:16]}…)"
    return check


def _check_oscal(bundle: Bundle) -> Check:
    check = Check("oscal")
    data = bundle.read(OSCAL)
    if data is None:
        check.fail(f"{OSCAL} is missing")
        return check
    try:
        model = oscal.parse(data)
    except ValueError as exc:
        first = str(exc).strip().splitlines()
        check.fail(f"{OSCAL}: not valid OSCAL assessment-results: {' '.join(first[:3])}")
        return check
    hashes = oscal.file_hashes(model)
    for path, sha in sorted(hashes.items()):
        actual = bundle.hashes.get(path)
        if actual is None:
            check.fail(f"{OSCAL}: back-matter names {path}, which is not in the bundle")
        elif actual[1] != sha:
            check.fail(f"{OSCAL}: back-matter hash of {path} differs from the file")
    results = model.assessment_results.results
    findings = sum(len(r.findings or []) for r in results)
    observations = sum(len(r.observations or []) for r in results)
    version = model.assessment_results.metadata.oscal_version
    while hasattr(version, "root"):
        version = version.root
    check.summary = (f"valid OSCAL {version} assessment-results: "
                     f"{findings} findings, {observations} observations, {len(hashes)} file hashes match")  # fmt: skip
    return check


__all__ = ["BundleFormatError", "Check", "Report", "verify_bundle"]
