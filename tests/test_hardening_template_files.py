"""Templates reach files outside their folder: every file a template names (page, includes, strings, assets) is
confined to the template folder (or assets/) after resolving links (issue 10, item 9)."""

from __future__ import annotations

import pytest

from helpers.tiny import TINY, write_tiny


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.html").write_text("TOP-SECRET {{ 6 * 7 }}")
    (secret / "secret.yaml").write_text("hi: TOP-SECRET\n")
    (secret / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return secret


def _problems(root) -> str:
    from tailorcast.errors import TemplateError
    from tailorcast.spec.load import load_template

    with pytest.raises(TemplateError) as info:
        load_template(root)
    return str(info.value)


@pytest.mark.parametrize("page", ["{outside}/secret.html", "../outside/secret.html"])
def test_the_page_must_be_inside_the_template_folder(tmp_path, outside, page):
    root = write_tiny(tmp_path / "tiny", TINY.replace("page: page.html", f"page: {page.format(outside=outside)}"))
    text = _problems(root)
    assert "page" in text and ("leaves the template folder" in text or "not a relative path" in text)
    assert "TOP-SECRET" not in text


def test_a_page_that_is_a_link_out_of_the_folder_is_refused(tmp_path, outside):
    root = write_tiny(tmp_path / "tiny")
    (root / "page.html").unlink()
    (root / "page.html").symlink_to(outside / "secret.html")
    assert "leaves the template folder" in _problems(root)


def test_a_strings_file_that_is_a_link_out_of_the_folder_is_refused(tmp_path, outside):
    root = write_tiny(tmp_path / "tiny")
    (root / "strings" / "en.yaml").unlink()
    (root / "strings" / "en.yaml").symlink_to(outside / "secret.yaml")
    text = _problems(root)
    assert "strings/en.yaml" in text and "leaves the template folder" in text


def test_an_asset_that_is_a_link_out_of_the_folder_is_refused(tmp_path, outside):
    root = write_tiny(tmp_path / "tiny", TINY.replace('accent: "#FFB703"}', 'accent: "#FFB703", logo: img/logo.png}'))
    (root / "img").mkdir()
    (root / "img" / "logo.png").symlink_to(outside / "logo.png")
    text = _problems(root)
    assert "brand.logo" in text and "leaves the template folder" in text


@pytest.mark.parametrize("include", ["part.html", "sub/part.html"])
def test_an_include_that_is_a_link_out_of_the_folder_is_not_read(tmp_path, outside, include):
    from jinja2.exceptions import TemplateNotFound

    from tailorcast.expressions import FolderLoader, page_env

    root = tmp_path / "tpl"
    (root / "sub").mkdir(parents=True)
    (root / include).symlink_to(outside / "secret.html")
    (root / "page.html").write_text(f"{{% include '{include}' %}}")
    with pytest.raises(TemplateNotFound) as info:
        page_env(FolderLoader(root)).get_template("page.html").render()
    assert "leaves the template folder" in str(info.value) and "TOP-SECRET" not in str(info.value)


def test_includes_inside_the_folder_and_links_that_stay_there_still_work(tmp_path):
    from tailorcast.expressions import FolderLoader, page_env

    root = tmp_path / "tpl"
    (root / "parts").mkdir(parents=True)
    (root / "parts" / "footer.html").write_text("footer {{ 6 * 7 }}")
    (root / "alias.html").symlink_to("parts/footer.html")
    (root / "page.html").write_text("{% include 'parts/footer.html' %}|{% include 'alias.html' %}")
    assert page_env(FolderLoader(root)).get_template("page.html").render() == "footer 42|footer 42"


def test_a_published_page_is_built_with_the_confined_loader():
    """microsite/build.py reads pages through FolderLoader, not Jinja's FileSystemLoader (which follows links out)."""
    from helpers.samples import ROOT

    source = (ROOT / "microsite" / "build.py").read_text()
    assert "expressions.FolderLoader(" in source and "FileSystemLoader" not in source
