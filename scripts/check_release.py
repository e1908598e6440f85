"""Checks of the release files and artefacts; each problem is printed on its own line, naming
the file and the value that is wrong, and the exit status is 1 if there is any.

    python3 scripts/check_release.py repo                          # versions agree, license files present
    python3 scripts/check_release.py wheel WHEEL [--platform TAG] [--auditwheel FILE]
    python3 scripts/check_release.py sdist SDIST

``repo``: the version of ``[workspace.package]`` in Cargo.toml (which every crate, the wheel,
``maxk --version`` and ``maxk.__version__`` take) equals the newest released section of
CHANGELOG.md and the ``version`` of CITATION.cff; pyproject.toml takes its version from Cargo
(``dynamic``); LICENSE-MIT and LICENSE-APACHE are the standard texts and travel with the
published crate (crates/maxk-core) too.

``wheel``: the file name says maxk, the repository's version, ``cp310-abi3`` and the expected
platform tag (default ``manylinux_2_17_x86_64``); its METADATA agrees; both license files are
in ``.dist-info/licenses``; with ``--auditwheel``, the output of ``auditwheel show`` names the
same platform tag. ``sdist``: name, PKG-INFO version and both license files.

Standard library only (Python >= 3.11 for tomllib), so it runs before any venv exists.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LICENSES = {
    "LICENSE-MIT": ("Permission is hereby granted, free of charge", 'THE SOFTWARE IS PROVIDED "AS IS"'),
    "LICENSE-APACHE": ("Apache License", "Version 2.0, January 2004", "END OF TERMS AND CONDITIONS"),
}
LICENSE_EXPRESSION = "MIT OR Apache-2.0"
ABI_TAG = "cp310-abi3"
DEFAULT_PLATFORM = "manylinux_2_17_x86_64"


def cargo_version(root: Path) -> str:
    """The version of ``[workspace.package]`` in Cargo.toml."""
    return str(tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]["package"]["version"])


def changelog_version(text: str) -> str | None:
    """The newest released version of a Keep a Changelog file (the first ``## [x.y.z]``)."""
    for m in re.finditer(r"^## \[([^\]]+)\]", text, re.M):
        if m.group(1) != "Unreleased":
            return m.group(1)
    return None


def citation_version(text: str) -> str | None:
    """The top-level ``version:`` of a CITATION.cff file."""
    m = re.search(r"^version:\s*[\"']?([^\"'\s#]+)", text, re.M)
    return m.group(1) if m else None


def check_license_text(name: str, text: str | None, where: str) -> list[str]:
    if text is None:
        return [f"{where}: {name} is missing"]
    missing = [phrase for phrase in LICENSES[name] if phrase not in text]
    if missing:
        return [f"{where}: {name} is not the standard text (no {missing[0]!r})"]
    return []


def check_repo(root: Path) -> list[str]:
    problems: list[str] = []
    version = cargo_version(root)
    if not re.fullmatch(r"\d+\.\d+\.\d+([-.][0-9A-Za-z.]+)?", version):
        problems.append(f"Cargo.toml: workspace version {version!r} is not a semantic version")

    changelog = root / "CHANGELOG.md"
    if not changelog.is_file():
        problems.append("CHANGELOG.md is missing")
    else:
        text = changelog.read_text(encoding="utf-8")
        newest = changelog_version(text)
        if "## [Unreleased]" not in text:
            problems.append("CHANGELOG.md: no '## [Unreleased]' section (Keep a Changelog format)")
        if newest != version:
            problems.append(f"CHANGELOG.md: newest release is {newest!r}, Cargo.toml says {version!r}")
        elif not re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M):
            problems.append(f"CHANGELOG.md: the heading of {version} has no date (## [{version}] - YYYY-MM-DD)")

    citation = root / "CITATION.cff"
    if not citation.is_file():
        problems.append("CITATION.cff is missing")
    elif (cv := citation_version(citation.read_text(encoding="utf-8"))) != version:
        problems.append(f"CITATION.cff: version is {cv!r}, Cargo.toml says {version!r}")

    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if "version" in pyproject and pyproject["version"] != version:
        problems.append(f"pyproject.toml: version {pyproject['version']!r}, Cargo.toml says {version!r}")
    elif "version" not in pyproject and "version" not in pyproject.get("dynamic", []):
        problems.append("pyproject.toml: no version and 'version' is not dynamic (taken from Cargo.toml)")
    if pyproject.get("license") != LICENSE_EXPRESSION:
        problems.append(f"pyproject.toml: license is {pyproject.get('license')!r}, expected {LICENSE_EXPRESSION!r}")

    workspace = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]["package"]
    if workspace.get("license") != LICENSE_EXPRESSION:
        problems.append(f"Cargo.toml: license is {workspace.get('license')!r}, expected {LICENSE_EXPRESSION!r}")

    for name in LICENSES:
        for where in (root, root / "crates" / "maxk-core"):
            path = where / name
            text = path.read_text(encoding="utf-8") if path.is_file() else None
            problems += check_license_text(name, text, str(path.relative_to(root).parent) if where != root else "repository")
    return problems


def parse_wheel_name(name: str) -> dict[str, str] | None:
    """``{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`` (PEP 427)."""
    m = re.fullmatch(r"([^-]+)-([^-]+)(?:-\d[^-]*)?-([^-]+)-([^-]+)-([^-]+)\.whl", name)
    if m is None:
        return None
    return dict(zip(("name", "version", "python", "abi", "platform"), m.groups()))


def auditwheel_platform(output: str) -> str | None:
    """The platform tag that ``auditwheel show`` says the wheel is consistent with."""
    m = re.search(r'platform\s+tag:?\s*\n?\s*"([^"]+)"', output) or re.search(r'to\s+"([^"]+)"', output)
    return m.group(1) if m else None


def check_wheel(path: Path, version: str, platform: str, auditwheel_output: str | None) -> list[str]:
    problems: list[str] = []
    tags = parse_wheel_name(path.name)
    if tags is None:
        return [f"{path.name}: not a wheel file name (name-version-python-abi-platform.whl)"]
    if tags["name"] != "maxk":
        problems.append(f"{path.name}: distribution {tags['name']!r}, expected 'maxk'")
    if tags["version"] != version:
        problems.append(f"{path.name}: version {tags['version']!r}, Cargo.toml says {version!r}")
    if (interpreter := f"{tags['python']}-{tags['abi']}") != ABI_TAG:
        problems.append(f"{path.name}: interpreter tag {interpreter!r}, expected {ABI_TAG!r} (abi3)")
    if platform not in tags["platform"].split("."):
        problems.append(f"{path.name}: platform tag {tags['platform']!r}, expected {platform!r}")
    if auditwheel_output is not None:
        seen = auditwheel_platform(auditwheel_output)
        if seen is None:
            problems.append(f"auditwheel show {path.name}: no platform tag in its output:\n{auditwheel_output.strip()}")
        elif seen != platform:
            problems.append(f"auditwheel show {path.name}: consistent with {seen!r}, expected {platform!r}")
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        dist_info = f"maxk-{tags['version']}.dist-info"
        metadata = whl.read(f"{dist_info}/METADATA").decode() if f"{dist_info}/METADATA" in names else ""
        if not metadata:
            problems.append(f"{path.name}: no {dist_info}/METADATA")
        elif (mv := re.search(r"^Version: (.+)$", metadata, re.M)) is None or mv.group(1) != version:
            problems.append(f"{path.name}: METADATA version {mv.group(1) if mv else None!r}, expected {version!r}")
        for name in LICENSES:
            member = f"{dist_info}/licenses/{name}"
            text = whl.read(member).decode() if member in names else None
            problems += check_license_text(name, text, path.name)
        if not any(n.startswith("maxk/_maxk.") and n.endswith(".so") for n in names):
            problems.append(f"{path.name}: no native module maxk/_maxk.*.so")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    problems: list[str] = []
    top = f"maxk-{version}"
    if path.name != f"{top}.tar.gz":
        problems.append(f"{path.name}: expected {top}.tar.gz")
    with tarfile.open(path) as tar:
        members = {m.name: m for m in tar.getmembers()}
        top = next(iter(members)).split("/")[0]

        def read(name: str) -> str | None:
            member = members.get(f"{top}/{name}")
            f = tar.extractfile(member) if member is not None else None
            return f.read().decode() if f is not None else None

        pkg_info = read("PKG-INFO") or ""
        mv = re.search(r"^Version: (.+)$", pkg_info, re.M)
        if mv is None or mv.group(1) != version:
            problems.append(f"{path.name}: PKG-INFO version {mv.group(1) if mv else None!r}, expected {version!r}")
        for name in LICENSES:
            problems += check_license_text(name, read(name), path.name)
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("repo")
    wheel = sub.add_parser("wheel")
    wheel.add_argument("path", type=Path)
    wheel.add_argument("--platform", default=DEFAULT_PLATFORM)
    wheel.add_argument("--auditwheel", type=Path, help="a file holding the output of `auditwheel show WHEEL`")
    sdist = sub.add_parser("sdist")
    sdist.add_argument("path", type=Path)
    args = parser.parse_args(argv)

    if args.what == "repo":
        problems = check_repo(ROOT)
        label = "repository"
    elif args.what == "wheel":
        output = args.auditwheel.read_text(encoding="utf-8") if args.auditwheel else None
        problems = check_wheel(args.path, cargo_version(ROOT), args.platform, output)
        label = args.path.name
    else:
        problems = check_sdist(args.path, cargo_version(ROOT))
        label = args.path.name
    for p in problems:
        print(f"check_release: {p}", file=sys.stderr)
    if not problems:
        print(f"check_release: {label} ok (version {cargo_version(ROOT)})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
