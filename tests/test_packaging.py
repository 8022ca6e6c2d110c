"""What users of the ecosystem rely on: server.json, one version, the README, and the wheel itself.

- server.json validates against the MCP Registry schema (vendored in tests/data, 2025-12-11) and
  agrees with the code: version, environment variables, secrets, defaults.
- One version source: identifai_mcp/__init__.py; pyproject, server.json, the wheel and the
  CHANGELOG follow it.
- The README carries `mcp-name: <server.json name>` (PyPI ownership proof for the registry), and
  every tool, prompt, variable, command and flag it names exists.
- The wheel, built from this tree, holds the package, py.typed and the prompts, and nothing else;
  installed into a fresh virtual environment it runs and serves the prompts from inside itself.

Two tests need the package index (PyPI) and run only with IDENTIFAI_TEST_NETWORK=1 (.ci/run sets
it): a full install with dependencies into a fresh venv, and `uvx --from . identifai-mcp --help`
from a clean copy of the checkout.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft7Validator

import identifai_mcp
from identifai_mcp import settings as settings_module

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).with_name("data") / "mcp-server.schema.2025-12-11.json"
SHARED_SCHEMA = ROOT.parent / "shared" / "mcp" / "server.schema.json"  # the team's reference copy, when present
VERSION = identifai_mcp.__version__
PROMPT_FILES = sorted(p.name for p in (ROOT / "prompts").glob("*.md"))
TOOLS = {
    "classify_video_file", "classify_video_url", "get_result", "get_results_batch",
    "override", "get_credits", "inspect_video_file", "extract_frames",
}
# Variables that only matter to the HTTP transport; server.json describes the stdio package.
HTTP_ONLY_VARS = {"IDENTIFAI_MCP_ALLOWED_HOSTS", "IDENTIFAI_MCP_ALLOW_LOCAL_FILES"}
NETWORK = os.environ.get("IDENTIFAI_TEST_NETWORK") == "1"
needs_network = pytest.mark.skipif(
    not NETWORK, reason="needs the package index (PyPI): set IDENTIFAI_TEST_NETWORK=1 to run (.ci/run does)"
)
BIN = "Scripts" if os.name == "nt" else "bin"


def server_json() -> dict[str, Any]:
    return json.loads((ROOT / "server.json").read_text(encoding="utf-8"))


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run(args: list[str | Path], *, timeout: float = 120, check: bool = True,
        **kw: Any) -> subprocess.CompletedProcess[str]:
    """A subprocess without the checkout on its path, so only what is installed can be imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(kw.pop("env", {}))
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check:
        assert proc.returncode == 0, f"{args} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


# -- server.json --------------------------------------------------------------------------------


def test_server_json_is_valid_against_the_registry_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    document = server_json()
    assert document["$schema"] == schema["$id"], "server.json names the schema it is validated against"
    Draft7Validator.check_schema(schema)
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_vendored_schema_matches_the_shared_reference_copy() -> None:
    if not SHARED_SCHEMA.is_file():
        pytest.skip(f"no shared reference schema at {SHARED_SCHEMA} (only in the team's workspace)")
    assert json.loads(SCHEMA.read_text()) == json.loads(SHARED_SCHEMA.read_text())


def test_server_json_describes_the_pypi_stdio_package() -> None:
    document = server_json()
    assert re.fullmatch(r"io\.github\.[A-Za-z0-9-]+/identifai-mcp", document["name"])
    assert 1 <= len(document["description"]) <= 100
    [package] = document["packages"]
    assert package["registryType"] == "pypi"
    assert package["registryBaseUrl"] == "https://pypi.org"
    assert package["identifier"] == pyproject()["project"]["name"] == "identifai-mcp"
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}


def test_server_json_environment_variables_match_the_code() -> None:
    [package] = server_json()["packages"]
    variables = {v["name"]: v for v in package["environmentVariables"]}
    read_by_code = set(settings_module._ENV)
    unknown = set(variables) - read_by_code
    assert not unknown, f"server.json names variables the code never reads: {unknown}"
    assert read_by_code - HTTP_ONLY_VARS <= set(variables), "every stdio setting is described for registry clients"

    key = variables["IDENTIFAI_API_KEY"]
    assert key["isSecret"] is True and key["isRequired"] is True
    for name, variable in variables.items():
        assert "isSecret" in variable, f"{name}: say explicitly whether it is secret"
        if re.search(r"KEY|SECRET|TOKEN|PASSWORD", name):
            assert variable["isSecret"] is True, name
        else:
            assert variable["isSecret"] is False, name
        assert "default" not in variable or not variable.get("isSecret"), f"{name}: a secret has no default"
    # Documented defaults are the real ones.
    defaults = settings_module.Settings(home=ROOT)
    assert variables["IDENTIFAI_BASE_URL"]["default"] == defaults.base_url
    assert float(variables["IDENTIFAI_WAIT_SECONDS"]["default"]) == defaults.wait_seconds


# -- one version ---------------------------------------------------------------------------------


def test_one_version_source_and_everything_in_lockstep() -> None:
    project = pyproject()
    assert "version" not in project["project"], "pyproject.toml must not repeat the version"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "identifai_mcp/__init__.py"
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?", VERSION)
    document = server_json()
    assert document["version"] == VERSION
    assert document["packages"][0]["version"] == VERSION
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(VERSION)}\b", changelog, re.M), "the CHANGELOG has a section for this version"


# -- the README ------------------------------------------------------------------------------------


def test_readme_carries_the_mcp_name_with_a_boundary() -> None:
    name = server_json()["name"]
    text = readme()
    found = re.findall(r"mcp-name:\s*(\S+?)(?=\s|-->|<|$)", text)
    assert found == [name], f"README mcp-name lines: {found}, server.json name: {name}"
    # The registry requires a boundary after the name: whitespace, a tag or the end of a comment.
    assert re.search(rf"mcp-name: {re.escape(name)}(\s|-->|<)", text)
    assert not re.search(rf"mcp-name: {re.escape(name)}[.\w/-]", text)
    assert pyproject()["project"]["readme"] == "README.md", "the README is the PyPI description"


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_readme_sections_users_need() -> None:
    text = readme()
    for title in ("Set-up: two commands", "What it does", "A worked example", "Connect it to your client",
                  "The command line", "Configuration", "Remote use: Streamable HTTP", "Troubleshooting"):
        _section(text, title)
    setup = _section(text, "Set-up: two commands")
    commands = re.findall(r"^(python3 -m pip install .+?)(?:\s+#.*)?$", setup, re.M)
    assert commands == ["python3 -m pip install . && identifai-mcp --help",
                        "python3 -m pip install -e '.[test]' && python3 -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\npython3 -m pip install -e '.[test]' && python3 -m pytest\n" in ci, "CI runs the README's test command"
    clients = _section(text, "Connect it to your client")
    for client in ("Claude Desktop", "Claude Code", "Cursor", "VS Code", "Windsurf", "generic JSON"):
        assert client in clients, client
    assert re.search(r"^claude mcp add -e IDENTIFAI_API_KEY=\S+ identifai -- uvx identifai-mcp$", clients, re.M)
    assert "identifai-mcp serve --transport http --host 127.0.0.1 --port 8000" in text


def test_readme_json_snippets_are_valid_configs() -> None:
    blocks = re.findall(r"```json\n(.*?)```", readme(), re.S)
    assert len(blocks) >= 4
    configs = [json.loads(block) for block in blocks]  # every snippet can be pasted as is
    launches = []
    for config in configs:
        for servers in (config.get("mcpServers"), config.get("servers")):
            for entry in (servers or {}).values():
                launches.append(entry)
    stdio = [e for e in launches if "command" in e]
    assert stdio and all(e["command"] == "uvx" and e["args"] == ["identifai-mcp"] for e in stdio)
    assert all("IDENTIFAI_API_KEY" in e.get("env", {}) for e in stdio)
    http = [e for e in launches if "url" in e]
    assert http and all(e["url"].endswith("/mcp") for e in http)


def test_readme_names_only_real_tools_prompts_and_variables() -> None:
    text = readme()
    table = _section(text, "What it does")
    assert set(re.findall(r"^\| `(\w+)` \|", table, re.M)) == TOOLS
    prompt_names = {p.removesuffix(".md") for p in PROMPT_FILES}
    mentioned = set(re.findall(r"`(\w+)\(\w+(?:, \w+)*\)`", text))
    assert mentioned == prompt_names, f"README prompts {mentioned} vs prompts/ {prompt_names}"
    variables = set(re.findall(r"\bIDENTIFAI_[A-Z0-9_]+[A-Z0-9]\b", text))
    unknown = variables - set(settings_module._ENV)
    assert not unknown, f"README names variables the code never reads: {unknown}"
    configuration = _section(text, "Configuration")
    assert set(re.findall(r"^\| `(IDENTIFAI_[A-Z0-9_]+)` \|", configuration, re.M)) == set(settings_module._ENV)


def test_readme_paths_exist() -> None:
    text = readme()
    paths = set(re.findall(r"\b((?:bench|docs|prompts|tests)/[\w./-]*\w)", text))
    paths |= set(re.findall(r"\]\(((?!https?:)[^)#]+)\)", text))
    assert paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"README refers to files that do not exist: {missing}"


def test_readme_cli_commands_and_flags_exist(capsys: pytest.CaptureFixture[str]) -> None:
    from identifai_mcp.cli import main

    block = _section(readme(), "The command line")
    usage = re.search(r"```\n(.*?)```", block, re.S)
    assert usage
    commands: dict[str, set[str]] = {}
    current = ""
    for line in usage.group(1).splitlines():
        match = re.match(r"identifai-mcp (\w+)", line)
        if match:
            current = match.group(1)
            commands.setdefault(current, set())
        commands[current] |= set(re.findall(r"--[a-z][a-z0-9-]*", line))
    assert set(commands) == {"classify", "result", "results", "override", "credits", "history", "inspect",
                             "frames", "serve"}
    common = set(re.findall(r"`(--[a-z][a-z0-9-]*)", block.split("Every command also takes", 1)[1].split(".", 1)[0]))
    assert common == {"--debug", "--base-url", "--home", "--allowed-dir"}
    for command, flags in commands.items():
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        help_text = capsys.readouterr().out
        for flag in flags | common:
            assert re.search(rf"{re.escape(flag)}\b", help_text), f"`identifai-mcp {command}` has no {flag}"


# -- the wheel ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built offline by the project's own backend (hatchling)."""
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pytest.skip("hatchling (the build backend) is not installed: pip install -e '.[test]'")
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
         "--wheel-dir", out, ROOT], timeout=120)
    [built] = out.glob("*.whl")
    assert built.name == f"identifai_mcp-{VERSION}-py3-none-any.whl"
    return built


def test_wheel_holds_the_package_types_and_prompts_and_nothing_else(wheel: Path) -> None:
    dist_info = f"identifai_mcp-{VERSION}.dist-info/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        stray = [n for n in names if not n.startswith(("identifai_mcp/", dist_info))]
        assert not stray, f"unexpected files in the wheel: {stray}"
        assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
        assert not [n for n in names if re.search(r"(^|/)(tests|\.venv[^/]*|bench|docs|\.ci|\.git)/", n)]
        assert "identifai_mcp/py.typed" in names
        for prompt in PROMPT_FILES:
            packaged = f"identifai_mcp/prompts/{prompt}"
            assert packaged in names, f"prompt {prompt} is not in the wheel"
            assert archive.read(packaged) == (ROOT / "prompts" / prompt).read_bytes()
        assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("identifai_mcp/prompts/")) == PROMPT_FILES
        sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "identifai_mcp").rglob("*.py")
                   if "__pycache__" not in p.parts}
        assert sources <= set(names), f"modules missing from the wheel: {sorted(sources - set(names))}"

        entry_points = archive.read(dist_info + "entry_points.txt").decode()
        assert re.search(r"^\[console_scripts\]\nidentifai-mcp = identifai_mcp\.cli:main$", entry_points, re.M)
        metadata = email.parser.Parser().parsestr(archive.read(dist_info + "METADATA").decode())
        assert metadata["Name"] == "identifai-mcp"
        assert metadata["Version"] == VERSION == server_json()["version"]
        assert metadata["Requires-Python"] == ">=3.11"
        assert metadata["License-Expression"] == "MIT"
        assert any(n.startswith(dist_info + "licenses/LICENSE") for n in names), "the license text ships"
        # PyPI shows the README, so the registry's ownership check finds the mcp-name line there.
        assert f"mcp-name: {server_json()['name']}" in metadata.get_payload()
        requires = metadata.get_all("Requires-Dist") or []
        assert any(r.startswith("mcp") and "<3" in r for r in requires), requires


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; its dependencies come from the running environment.

    Offline and fast: the new venv's site-packages (holding only the wheel) comes first on the
    path, then this environment's site-packages for the dependencies. The checkout is not on the
    path, and an editable install's path hook there is not processed, so only the wheel is imported.
    """
    venv = tmp_path_factory.mktemp("venv") / "wheel-venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    python = venv / BIN / ("python.exe" if os.name == "nt" else "python")
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    deps = [p for p in {*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
            if Path(p).is_dir() and Path(p).resolve() != ROOT]
    (purelib / "zz_identifai_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
        timeout=120)
    return venv


def test_installed_wheel_runs_as_script_and_module(installed: Path, tmp_path: Path) -> None:
    python = installed / BIN / "python"
    script = installed / BIN / "identifai-mcp"
    for args in ([script, "--help"], [python, "-m", "identifai_mcp", "--help"]):
        proc = run(args, cwd=tmp_path, timeout=60)
        assert proc.stdout.startswith("usage: identifai-mcp"), proc.stdout
        assert "serve" in proc.stdout and "classify" in proc.stdout
    version = run([script, "--version"], cwd=tmp_path, timeout=60)
    assert version.stdout.strip() == f"identifai-mcp {VERSION}"
    # The wheel's declared dependencies are met by the versions the test suite runs with.
    check = run([sys.executable, "-m", "pip", "--python", python, "check"], check=False, timeout=60)
    assert check.returncode == 0 or "identifai-mcp" not in check.stdout, check.stdout


def test_installed_wheel_loads_prompts_from_inside_the_package(installed: Path, tmp_path: Path) -> None:
    python = installed / BIN / "python"
    probe = (
        "import json, pathlib, identifai_mcp, identifai_mcp.prompts as p\n"
        "print(json.dumps({'package': identifai_mcp.__file__, 'dir': str(p.prompts_dir()),\n"
        "  'typed': (pathlib.Path(identifai_mcp.__file__).parent / 'py.typed').is_file(),\n"
        "  'names': sorted(t.name for t in p.load_prompts())}))"
    )
    facts = json.loads(run([python, "-c", probe], cwd=tmp_path, timeout=60).stdout)
    package_dir = Path(facts["package"]).parent
    assert installed in package_dir.parents and ROOT not in package_dir.parents
    assert Path(facts["dir"]) == package_dir / "prompts"
    assert facts["typed"] is True
    assert facts["names"] == [p.removesuffix(".md") for p in PROMPT_FILES]


@pytest.mark.anyio
async def test_installed_server_serves_the_prompts_over_stdio(installed: Path, tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IDENTIFAI_API_KEY")}
    env["IDENTIFAI_MCP_HOME"] = str(tmp_path / "home")
    params = StdioServerParameters(command=str(installed / BIN / "identifai-mcp"), args=[], env=env, cwd=str(tmp_path))
    with anyio.fail_after(60):
        async with Client(params) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {p.removesuffix(".md") for p in PROMPT_FILES}
            prompt = await client.get_prompt("verify_video", {"source": "/videos/clip.mp4"})
            assert "/videos/clip.mp4" in prompt.messages[0].content.text


# -- with the package index -------------------------------------------------------------------------


@needs_network
def test_wheel_installs_with_its_dependencies_into_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "fresh"
    run([sys.executable, "-m", "venv", venv], timeout=120)
    python = venv / BIN / "python"
    run([python, "-m", "pip", "install", "--quiet", wheel], timeout=300)
    run([python, "-m", "pip", "check"], timeout=60)
    proc = run([venv / BIN / "identifai-mcp", "--help"], cwd=tmp_path, timeout=60)
    assert proc.stdout.startswith("usage: identifai-mcp")


def _clean_checkout(dest: Path) -> Path:
    """The files a clone would have: tracked plus new, not ignored (no .venv, caches or builds)."""
    listed = None
    if shutil.which("git") and (ROOT / ".git").exists():
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              cwd=ROOT, capture_output=True, timeout=60)
        if proc.returncode == 0:
            listed = [name for name in proc.stdout.decode().split("\0") if name]
    if listed is None:
        ignore = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.pyc", ".ci", "node_modules", "dist",
                                        "build", "*.egg-info", ".hypothesis", ".mypy_cache", ".ruff_cache")
        shutil.copytree(ROOT, dest, ignore=ignore)
        return dest
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@needs_network
def test_uvx_from_a_clean_checkout(tmp_path: Path) -> None:
    checkout = _clean_checkout(tmp_path / "checkout")
    assert not (checkout / ".venv").exists() and (checkout / "pyproject.toml").is_file()
    uvx = shutil.which("uvx")
    if uvx is None:  # not installed: bring uv into a throwaway venv
        tools = tmp_path / "uv-venv"
        run([sys.executable, "-m", "venv", tools], timeout=120)
        run([tools / BIN / "python", "-m", "pip", "install", "--quiet", "uv"], timeout=300)
        uvx = str(tools / BIN / "uvx")
    proc = run([uvx, "--from", ".", "identifai-mcp", "--help"], cwd=checkout, timeout=300,
               env={"UV_NO_CONFIG": "1"})
    assert proc.stdout.startswith("usage: identifai-mcp"), proc.stdout
