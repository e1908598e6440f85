"""One version everywhere, and the release checks of scripts/check_release.py (run by .ci/run and
scripts/build-wheels.sh): each bad input is refused with a message naming what is wrong."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

import maxk
from conftest import REPO

spec = importlib.util.spec_from_file_location("check_release", REPO / "scripts" / "check_release.py")
assert spec is not None and spec.loader is not None
check_release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_release)

VERSION = check_release.cargo_version(REPO)
GOOD_WHEEL = f"maxk-{VERSION}-cp310-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
AUDITWHEEL_OK = (
    f"{GOOD_WHEEL} is consistent with the following platform tag:\n"
    '"manylinux_2_17_x86_64".\n\nThe wheel references external versioned symbols in these\n'
    "system-provided shared libraries: libc.so.6 with versions {'GLIBC_2.17'}\n"
)


def test_installed_package_has_the_workspace_version() -> None:
    assert maxk.__version__ == VERSION
    assert importlib.metadata.version("maxk") == VERSION


def test_repository_release_files_agree() -> None:
    assert check_release.check_repo(REPO) == []


def copy_release_files(dest: Path) -> Path:
    for name in ("Cargo.toml", "pyproject.toml", "CHANGELOG.md", "CITATION.cff", "LICENSE-MIT", "LICENSE-APACHE"):
        shutil.copy(REPO / name, dest / name)
    crate = dest / "crates" / "maxk-core"
    crate.mkdir(parents=True)
    for name in ("LICENSE-MIT", "LICENSE-APACHE"):
        shutil.copy(REPO / name, crate / name)
    assert check_release.check_repo(dest) == []
    return dest


def test_mismatched_changelog_version_is_named(tmp_path: Path) -> None:
    root = copy_release_files(tmp_path)
    text = (root / "CHANGELOG.md").read_text()
    (root / "CHANGELOG.md").write_text(text.replace(f"## [{VERSION}]", "## [9.9.9]", 1))
    assert check_release.check_repo(root) == [f"CHANGELOG.md: newest release is '9.9.9', Cargo.toml says '{VERSION}'"]


def test_mismatched_citation_and_cargo_versions_are_named(tmp_path: Path) -> None:
    root = copy_release_files(tmp_path)
    cargo = (root / "Cargo.toml").read_text()
    (root / "Cargo.toml").write_text(cargo.replace(f'version = "{VERSION}"', 'version = "0.0.1"', 1))
    problems = check_release.check_repo(root)
    assert f"CHANGELOG.md: newest release is '{VERSION}', Cargo.toml says '0.0.1'" in problems
    assert f"CITATION.cff: version is '{VERSION}', Cargo.toml says '0.0.1'" in problems


def test_missing_or_wrong_license_files_are_named(tmp_path: Path) -> None:
    root = copy_release_files(tmp_path)
    (root / "LICENSE-APACHE").unlink()
    (root / "crates" / "maxk-core" / "LICENSE-MIT").write_text("All rights reserved.\n")
    assert check_release.check_repo(root) == [
        "crates/maxk-core: LICENSE-MIT is not the standard text (no 'Permission is hereby granted, free of charge')",
        "repository: LICENSE-APACHE is missing",
    ]


def fake_wheel(directory: Path, name: str, version: str = VERSION, licenses: tuple[str, ...] = ("LICENSE-MIT", "LICENSE-APACHE")) -> Path:
    """A wheel-shaped zip with the files the check reads (METADATA, licenses, a native module)."""
    path = directory / name
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"maxk-{version}.dist-info/METADATA", f"Metadata-Version: 2.4\nName: maxk\nVersion: {version}\n")
        whl.writestr("maxk/_maxk.abi3.so", b"\x7fELF")
        for lic in licenses:
            whl.writestr(f"maxk-{version}.dist-info/licenses/{lic}", (REPO / lic).read_text())
    return path


def test_good_wheel_passes(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, GOOD_WHEEL)
    assert check_release.check_wheel(wheel, VERSION, "manylinux_2_17_x86_64", AUDITWHEEL_OK) == []


def test_wheel_with_the_wrong_tags_is_refused(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, f"maxk-{VERSION}-cp311-cp311-linux_x86_64.whl")
    problems = check_release.check_wheel(wheel, VERSION, "manylinux_2_17_x86_64", None)
    assert problems == [
        f"{wheel.name}: interpreter tag 'cp311-cp311', expected 'cp310-abi3' (abi3)",
        f"{wheel.name}: platform tag 'linux_x86_64', expected 'manylinux_2_17_x86_64'",
    ]


def test_auditwheel_disagreeing_with_the_tag_is_refused(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, GOOD_WHEEL)
    newer = AUDITWHEEL_OK.replace('"manylinux_2_17_x86_64"', '"manylinux_2_28_x86_64"')
    assert check_release.check_wheel(wheel, VERSION, "manylinux_2_17_x86_64", newer) == [
        f"auditwheel show {GOOD_WHEEL}: consistent with 'manylinux_2_28_x86_64', expected 'manylinux_2_17_x86_64'"
    ]


def test_wheel_without_a_license_or_with_another_version_is_refused(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path, GOOD_WHEEL.replace(VERSION, "0.0.1"), version="0.0.1", licenses=("LICENSE-MIT",))
    problems = check_release.check_wheel(wheel, VERSION, "manylinux_2_17_x86_64", None)
    assert problems == [
        f"{wheel.name}: version '0.0.1', Cargo.toml says '{VERSION}'",
        f"{wheel.name}: METADATA version '0.0.1', expected '{VERSION}'",
        f"{wheel.name}: LICENSE-APACHE is missing",
    ]


def fake_sdist(directory: Path, licenses: tuple[str, ...]) -> Path:
    path = directory / f"maxk-{VERSION}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        files = {"PKG-INFO": f"Metadata-Version: 2.4\nName: maxk\nVersion: {VERSION}\n"}
        files |= {lic: (REPO / lic).read_text() for lic in licenses}
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"maxk-{VERSION}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("licenses", [("LICENSE-MIT", "LICENSE-APACHE"), ("LICENSE-APACHE",)])
def test_sdist_license_files(tmp_path: Path, licenses: tuple[str, ...]) -> None:
    problems = check_release.check_sdist(fake_sdist(tmp_path, licenses), VERSION)
    expected = [] if len(licenses) == 2 else [f"maxk-{VERSION}.tar.gz: LICENSE-MIT is missing"]
    assert problems == expected


def test_auditwheel_output_parsing() -> None:
    assert check_release.auditwheel_platform(AUDITWHEEL_OK) == "manylinux_2_17_x86_64"
    assert check_release.auditwheel_platform("nothing useful") is None
