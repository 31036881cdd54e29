"""`make serve` collects static files only when their sources changed."""

import os

from atlas.staticfiles import collect_if_changed


def test_static_files_are_collected_again_only_when_a_source_changed(settings, tmp_path):
    sources, collected = tmp_path / "sources", tmp_path / "collected"
    sources.mkdir()
    (sources / "app.css").write_text("body {}")
    settings.STATICFILES_DIRS = [sources]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = collected

    assert collect_if_changed() is True
    assert (collected / "app.css").read_text() == "body {}"
    assert collect_if_changed() is False

    edited = sources / "app.css"
    edited.write_text("body { color: red }")
    later = edited.stat().st_mtime + 2  # collectstatic compares whole seconds
    os.utime(edited, (later, later))
    assert collect_if_changed() is True
    assert (collected / "app.css").read_text() == "body { color: red }"

    (sources / "app.js").write_text("")
    assert collect_if_changed() is True
    assert (collected / "app.js").exists()
    assert collect_if_changed() is False


def test_a_collection_that_never_finished_is_done_again(settings, tmp_path):
    sources, collected = tmp_path / "sources", tmp_path / "collected"
    sources.mkdir()
    (sources / "app.css").write_text("body {}")
    settings.STATICFILES_DIRS = [sources]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = collected
    assert collect_if_changed() is True
    (collected / ".sources").unlink()
    (collected / "app.css").unlink()
    assert collect_if_changed() is True
    assert (collected / "app.css").read_text() == "body {}"
