"""The README's map of the code names every module, so a newcomer finds each one."""

from .helpers import ROOT


def readme_layout() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Layout\n")
    return readme[start : readme.index("\n## ", start + 1)]


def test_the_readme_layout_names_every_module():
    layout = readme_layout()
    modules = [
        path
        for path in (ROOT / "service").rglob("*.py")
        if "migrations" not in path.parts and path.name != "__init__.py"
    ]
    assert len(modules) > 60
    missing = sorted(str(path.relative_to(ROOT)) for path in modules if path.name not in layout)
    assert missing == []
