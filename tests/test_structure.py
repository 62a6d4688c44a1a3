"""The layout's rules that a reader relies on, checked on the source itself.

Imports run one way up the stack (penguinmon → collectors → alerts/reputation → incidents →
dashboards). An import tucked inside a function body is how a module reaches across that
order without it showing at the top of the file, so no function may import another app.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("penguinmon", "collectors", "alerts", "reputation", "incidents", "dashboards")


def _modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def _imported_apps(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.ImportFrom):
        names = [node.module or ""] if node.level == 0 else []
    else:
        names = [alias.name for alias in node.names]
    return {name.split(".")[0] for name in names} & set(APPS)


def _function_level_imports(tree: ast.Module):
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def test_no_function_imports_another_app():
    crossings = set()
    for path in _modules():
        app = path.relative_to(ROOT).parts[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _function_level_imports(tree):
            for other in _imported_apps(node) - {app}:
                crossings.add(f"{path.relative_to(ROOT)}:{node.lineno} imports {other}")
    assert not crossings, "function-level imports across apps:\n" + "\n".join(sorted(crossings))


def test_the_check_sees_a_function_level_import_across_apps():
    tree = ast.parse("def f():\n    from alerts.selectors import x\n    import dashboards.pages\n")
    found = [_imported_apps(n) for n in _function_level_imports(tree)]
    assert found == [{"alerts"}, {"dashboards"}]
    assert _modules(), "no modules found: the check would pass on nothing"
