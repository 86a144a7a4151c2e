"""The folders' order is the imports' direction: plumbing, pipeline, serving, teaching,
tools, the CLI, then the app. A reader who trusts the folder names is not misled."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (  # module name prefixes, lowest first; a module may import its own layer or lower
    ("tl_core.config", "tl_core.errors", "tl_core.paths", "tl_core.files", "tl_core.download",
     "tl_core.quiet", "tl_core.i18n"),
    ("tl_core.pipeline",),
    ("tl_core.serving",),
    ("tl_core.teaching",),
    ("tl_core.tools",),
    ("tl_core.cli", "tl_core.__main__"),
    ("pages", "app"),
)  # fmt: skip


def layer_of(module: str) -> int | None:
    """The layer a module belongs to, or None for a module outside the project."""
    for number, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return number
    return 0 if module == "tl_core" else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import, those inside functions included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def project_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")),
            *sorted((ROOT / "tl_core").rglob("*.py"))]  # fmt: skip


def test_every_module_has_a_layer() -> None:
    assert [f for f in project_files() if layer_of(module_name(f)) is None] == []


def test_no_import_points_against_the_layers() -> None:
    wrong = []
    for path in project_files():
        own = layer_of(module_name(path))
        for line, target in imported(ast.parse(path.read_text(), str(path))):
            layer = layer_of(target)
            if layer is not None and own is not None and layer > own:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "imports against the layers (lower may not import higher):\n" + "\n".join(
        wrong
    )


def test_the_check_sees_an_import_against_the_layers() -> None:
    tree = ast.parse("def f():\n    from tl_core.serving.jobs import ServerJob\n")
    assert [layer_of(target) for _, target in imported(tree)] == [2]
    assert layer_of("tl_core.pipeline.train") == 1 < 2
