"""The release step the README documents holds together: the version has a changelog section, and every install line
and snippet of the README names this repository at the tag of that version (until a package index has it)."""

from __future__ import annotations

import re

import readme
from cli_helpers import ROOT

from freezelint import __version__


def test_the_changelog_has_a_section_for_the_version():
    headings = re.findall(r"^## (\S+) - (\S+)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings and headings[0][0] == __version__, "the newest section is the version being prepared or released"
    assert re.fullmatch(r"unreleased|\d{4}-\d{2}-\d{2}", headings[0][1])


def test_install_lines_and_snippets_name_this_repository_at_the_release_tag():
    text = readme.README.read_text()
    tag = f"v{__version__}"
    assert not re.search(r"pip install (?:-\S+ )*\"?freezelint(?:\[[\w,]+\])?\"?(?=\s|$)(?!\s*@)", text), "no bare `pip install freezelint`"
    urls = re.findall(r"git\+(\S+?)@([\w.]+)", text)
    assert urls and all(url == readme.REPOSITORY and ref == tag for url, ref in urls), urls
    assert re.findall(r"rev: (\S+)", readme.block("pre-commit")) == [tag]
    assert f"repo: {readme.REPOSITORY}" in readme.block("pre-commit")
