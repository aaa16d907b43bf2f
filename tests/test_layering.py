"""The layer order and each domain's public surface (docs/ARCHITECTURE.md §1), checked on
every import of every module in contest/, imports inside functions included.

    foundation ← accounts ← contests ← media ← antifraud ← voting ← judging ← results ← top

A module imports only its own layer or the layers below it. From another package it imports
only what that package offers (its `models`, its `service` and the named modules in PUBLIC),
and never a `_private` name. The places where the code currently does more are listed in
KNOWN_REACHES, each with its reason, and the same list is the table in docs/ARCHITECTURE.md §1.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "contest"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

FOUNDATION = frozenset({
    "config", "extensions", "db", "clock", "errors", "i18n", "text", "forms", "input_guard", "web",
    "security_headers", "request_log", "typesetting", "model_registry", "redis_client", "actions", "charts",
    "metrics", "addresses", "static_files", "page_cache",
})
DOMAINS = ("accounts", "contests", "media", "antifraud", "voting", "judging", "results")
TOP_PACKAGES = frozenset({"admin", "api", "site"})
# create_app, the CLI and the demo data put the packages together.
COMPOSITION_ROOTS = frozenset({"contest", "contest.cli", "contest.demo", "contest.jobs"})
TOP = len(DOMAINS) + 1

# What other packages may import from a domain (besides the package itself): its `models`,
# its `service` and the named modules that are one coherent operation or schema of it.
# Keep in step with the table in docs/ARCHITECTURE.md §1, which gives each module's reason.
PUBLIC: dict[str, frozenset[str]] = {
    "accounts": frozenset({"models", "service", "audit", "actors", "units"}),
    "contests": frozenset({"models", "service",
                           "school_import",  # schools from a spreadsheet: reading, checking, the template
                           "rules"}),  # the rules' schema: Rules, RuleSpec, rules_for_kind, parse_rule
    "media": frozenset({"models", "service", "submissions", "moderation",
                        "withdrawals",  # requests to withdraw an entry once voting or judging started
                        "consent_form",  # a minor's guardian consent form: printing it, storing the signed one
                        "uploads"}),  # every route that takes files: spooling, one transaction (a web helper)
    "antifraud": frozenset({"models", "service",
                            "captcha"}),  # issuing, drawing and checking (using up) captchas, for every form
    "voting": frozenset({"models", "service", "review", "live",
                         "figures",  # the one source of vote figures: counted, held, voided (now or sealed)
                         "ledger",  # the ledger: head, replay, inclusion proofs, sealing, verification
                         "view_stamps"}),  # the signed view token a page carries and its vote returns (a web helper)
    "judging": frozenset({"models", "service", "visibility"}),
    "results": frozenset({"models", "service", "exports",
                          "formulas",  # the formulas' schema: defaults, checks, fingerprints, explanations (pure)
                          "certificates",  # award certificates (PDF), beside exports
                          "prepared"}),  # large exports and certificate batches, made by the job runner
    "admin": frozenset(),
    "api": frozenset(),
    "site": frozenset(),
}

# Foundation modules that import domains at run time, each with its reason. Imports under
# `if TYPE_CHECKING:` load nothing at run time and are not counted here (web.py's types).
FOUNDATION_EXCEPTIONS: dict[str, str] = {
    # Its one job: load every package's tables into the metadata for create_app and Alembic.
    # It may import `models` modules and nothing else of a domain.
    "contest.model_registry": "models",
}

# Where a module currently reaches into another package beyond its public surface:
# (importer, imported module) -> why. Keep in step with the table in docs/ARCHITECTURE.md §1.
KNOWN_REACHES: dict[tuple[str, str], str] = {
    # create_app chooses the implementations of the pluggable parts it puts in app.extensions.
    ("contest", "contest.accounts.sms"): "create_app picks the SMS sender (make_sender)",
    ("contest", "contest.media.storage"): "create_app makes LocalStorage(MEDIA_ROOT)",
    # The job runner's schedules run upkeep that no request does.
    ("contest.jobs", "contest.media.orphans"): "the hourly sweep of stored files no row refers to",
    ("contest.jobs", "contest.media.playback"): "the playback renditions of uploaded videos",
    ("contest.jobs", "contest.voting.housekeeping"): "the hourly prune",
    ("contest.jobs", "contest.voting.sealing"): "the sealing turn every 2 s",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    line: int
    target: str  # the imported module
    name: str | None = None  # a name taken from the target, when it is not a module itself
    type_checking: bool = False


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, source: str, modules: set[str] | dict[str, Path], *, is_package: bool = False) -> list[Import]:
    """Every import of a contest module in `source`, resolved to absolute names, plus each
    `_private` attribute read from an imported contest module."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []
    bound: dict[str, str] = {}  # local name -> contest module it is bound to

    def add(line: int, target: str, name: str | None, local: str | None, type_checking: bool) -> None:
        if target != "contest" and not target.startswith("contest."):
            return
        found.append(Import(module, line, target, name, type_checking))
        if local and name is None:
            bound[local] = target

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name, None, alias.asname, type_checking)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source_module = ".".join(base + ([node.module] if node.module else []))
            else:
                source_module = node.module or ""
            for alias in node.names:
                submodule = f"{source_module}.{alias.name}"
                if submodule in modules:
                    add(node.lineno, submodule, None, alias.asname or alias.name, type_checking)
                else:
                    add(node.lineno, source_module, alias.name, None, type_checking)
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    tree = ast.parse(source)
    visit(tree, False)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and _is_private(node.attr)):
            found.append(Import(module, node.lineno, bound[node.value.id], node.attr))
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and name != "_" and not (name.startswith("__") and name.endswith("__"))


def unit_of(module: str) -> str:
    """The package a module belongs to, or the top-level module itself."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in PUBLIC:
        return parts[1]
    return module


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if module in COMPOSITION_ROOTS:
        return TOP
    if len(parts) == 2 and parts[1] in FOUNDATION:
        return 0
    if len(parts) >= 2 and parts[1] in TOP_PACKAGES:
        return TOP
    if len(parts) >= 2 and parts[1] in DOMAINS:
        leaf = parts[-1] if len(parts) > 2 else ""
        if leaf == "views" or leaf.endswith("_views"):
            return TOP  # a domain's blueprints sit on top of every domain (DESIGN.md §2)
        return 1 + DOMAINS.index(parts[1])
    return None


def _layer_name(layer: int) -> str:
    return "foundation" if layer == 0 else "top" if layer == TOP else DOMAINS[layer - 1]


def _is_wiring(leaf: str) -> bool:
    return leaf in ("views", "cli", "demo") or leaf.endswith("_views")


def violations_of(imp: Import, known: dict[tuple[str, str], str] = KNOWN_REACHES) -> list[str]:
    """What is wrong with one import, as messages naming the module and the import."""
    what = imp.target + (f".{imp.name}" if imp.name else "")
    where = f"{imp.module}:{imp.line} imports {what}"
    own, theirs = unit_of(imp.module), unit_of(imp.target)
    problems: list[str] = []
    importer_layer, target_layer = layer_of(imp.module), layer_of(imp.target)
    if importer_layer is None:
        problems.append(f"{imp.module} is in no layer: add it to tests/test_layering.py and docs/ARCHITECTURE.md §1")
    if target_layer is None and imp.target != imp.module:
        problems.append(f"{where}: {imp.target} is in no layer")
    if own == theirs or importer_layer is None or target_layer is None:
        return problems

    leaf = imp.target.split(".")[2] if imp.target.count(".") >= 2 else ""
    foundation_ok = FOUNDATION_EXCEPTIONS.get(imp.module) == leaf
    if target_layer > importer_layer and not imp.type_checking and not foundation_ok:
        problems.append(f"{where}: breaks the layer order ({_layer_name(importer_layer)} may not import "
                        f"{_layer_name(target_layer)})")
    if theirs in PUBLIC and leaf and leaf not in PUBLIC[theirs] and (imp.module, imp.target) not in known \
            and not foundation_ok and not (imp.module in COMPOSITION_ROOTS and _is_wiring(leaf)):
        problems.append(f"{where}: reaches into {theirs}'s internals (other packages may import "
                        f"{', '.join(sorted(PUBLIC[theirs])) or 'nothing'})")
    if imp.name and _is_private(imp.name):
        problems.append(f"{where}: a private name of another package")
    return problems


def check_source(module: str, source: str, modules: set[str] | dict[str, Path], *, is_package: bool = False,
                 known: dict[tuple[str, str], str] = KNOWN_REACHES) -> list[str]:
    return [problem for imp in imports_of(module, source, modules, is_package=is_package)
            for problem in violations_of(imp, known)]


def _all_imports() -> list[Import]:
    modules = all_modules()
    return [imp for module, path in modules.items()
            for imp in imports_of(module, path.read_text(encoding="utf-8"), modules, is_package=path.name == "__init__.py")]


def test_every_import_keeps_the_layer_order_and_the_public_surfaces() -> None:
    modules = all_modules()
    problems = [f"{modules[imp.module].relative_to(ROOT)}: {problem}"
                for imp in _all_imports() for problem in violations_of(imp)]
    assert not problems, "\n" + "\n".join(problems)


def test_every_known_reach_is_still_in_the_code() -> None:
    """An exception the code no longer needs leaves the list (and the doc's table)."""
    used = {(imp.module, imp.target) for imp in _all_imports()}
    stale = sorted(set(KNOWN_REACHES) - used)
    assert not stale, f"no longer imported, remove from KNOWN_REACHES and docs/ARCHITECTURE.md §1: {stale}"


def _doc_table(header: str) -> list[list[str]]:
    lines = ARCHITECTURE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "").startswith(header.replace(" ", "")))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_the_architecture_doc_declares_the_same_public_surfaces() -> None:
    declared = {}
    for package, offered in _doc_table("| package | other packages may import |"):
        (name,) = _ticked(package)
        declared[name] = frozenset(_ticked(offered))
    assert declared == {name: PUBLIC[name] for name in DOMAINS}


def test_the_architecture_doc_lists_the_same_exceptions() -> None:
    declared = set()
    for importers, targets, _why in _doc_table("| module | reaches into | why |"):
        for path in (token for token in _ticked(importers) if token.endswith(".py")):
            importer = module_name(PACKAGE / path)
            declared |= {(importer, f"contest.{target}") for target in _ticked(targets)}
    assert declared == set(KNOWN_REACHES)


# The checker itself must be able to fail.

SYNTHETIC_MODULES = {"contest", "contest.web", "contest.i18n", "contest.accounts", "contest.accounts.models",
                     "contest.accounts.service", "contest.accounts.sms", "contest.media", "contest.media.images",
                     "contest.media.storage", "contest.voting", "contest.voting.service", "contest.voting.live",
                     "contest.voting.views", "contest.voting.ledger", "contest.voting.writer", "contest.contests",
                     "contest.contests.models", "contest.results", "contest.results.service", "contest.admin",
                     "contest.admin.views"}


def test_the_checker_finds_an_import_of_a_higher_domain_inside_a_function() -> None:
    source = "from ..accounts import models\n\ndef f():\n    from ..voting import service\n    return service\n"
    problems = check_source("contest.contests.service", source, SYNTHETIC_MODULES)
    assert problems == ["contest.contests.service:4 imports contest.voting.service: "
                        "breaks the layer order (contests may not import voting)"]


def test_the_checker_finds_a_foundation_module_importing_a_domain() -> None:
    problems = check_source("contest.i18n", "import contest.accounts.models\n", SYNTHETIC_MODULES)
    assert problems == ["contest.i18n:1 imports contest.accounts.models: "
                        "breaks the layer order (foundation may not import accounts)"]
    type_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .accounts.models import User\n"
    assert check_source("contest.i18n", type_only, SYNTHETIC_MODULES) == []


def test_the_checker_finds_reaches_into_internals() -> None:
    source = ("from ..voting import writer\n"
              "from ..voting.views import bp\n"
              "from ..voting.service import _quota_left\n"
              "from ..voting import live\n"
              "live._database_board\n")
    problems = check_source("contest.results.service", source, SYNTHETIC_MODULES, known={})
    assert problems == [
        "contest.results.service:1 imports contest.voting.writer: reaches into voting's internals "
        "(other packages may import figures, ledger, live, models, review, service, view_stamps)",
        "contest.results.service:2 imports contest.voting.views.bp: breaks the layer order (results may not import top)",
        "contest.results.service:2 imports contest.voting.views.bp: reaches into voting's internals "
        "(other packages may import figures, ledger, live, models, review, service, view_stamps)",
        "contest.results.service:3 imports contest.voting.service._quota_left: a private name of another package",
        "contest.results.service:5 imports contest.voting.live._database_board: a private name of another package",
    ]


def test_the_checker_allows_public_surfaces_known_reaches_and_wiring() -> None:
    source = ("from contest import web\nfrom contest.i18n import _\nfrom ..accounts.models import User\n"
              "from ..accounts import service\nfrom ..voting import live, ledger, writer\n")
    known = {("contest.results.service", "contest.voting.writer"): "test"}
    assert check_source("contest.results.service", source, SYNTHETIC_MODULES, known=known) == []
    assert check_source("contest", "def f():\n    from .voting.views import bp\n", SYNTHETIC_MODULES,
                        is_package=True) == []
    assert check_source("contest.admin.views", "from ..voting.views import bp\n", SYNTHETIC_MODULES) != []
    assert check_source("contest.voting.views", "from ..results import service\n", SYNTHETIC_MODULES) == []


def test_the_checker_refuses_an_unclassified_module() -> None:
    problems = check_source("contest.helpers", "from .accounts import service\n", SYNTHETIC_MODULES)
    assert problems == ["contest.helpers is in no layer: add it to tests/test_layering.py and docs/ARCHITECTURE.md §1"]
