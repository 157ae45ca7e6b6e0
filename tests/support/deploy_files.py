"""Readers for the deployment files, for tests that check them against the code without
Docker or a cluster: compose, Kubernetes manifests, Dockerfile and its ignore file, PromQL.
"""
from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"


# --- docker compose ------------------------------------------------------------------------

@lru_cache(maxsize=1)
def compose() -> dict:
    """docker-compose.yml with anchors and merge keys resolved (PyYAML does both)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_services() -> dict:
    return compose()["services"]


def environment(service: dict) -> dict:
    """A compose service's environment as a dict (list or mapping form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def published_ports(service: dict) -> list[tuple[str | None, int, int]]:
    """(host address, host port, container port) of each short-syntax ``ports:`` entry."""
    found = []
    for entry in service.get("ports") or []:
        parts = str(entry).split(":")
        address = parts[0] if len(parts) == 3 else None
        found.append((address, int(parts[-2]), int(parts[-1])))
    return found


def depends_on(service: dict) -> dict:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(source relative to the compose file, target) of short-syntax bind mounts."""
    mounts = []
    for entry in service.get("volumes") or []:
        source, target = str(entry).split(":")[:2]
        if source.startswith("."):
            mounts.append((source, target))
    return mounts


# --- Kubernetes ---------------------------------------------------------------------------

def _kustomization_documents(directory: Path) -> list[dict]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    documents = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            documents += _kustomization_documents(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for generator in kustomization.get("configMapGenerator", []):
        data = {}
        for spec in generator.get("files", []):
            key, _, source = spec.rpartition("=") if "=" in spec else (None, None, spec)
            data[key or Path(source).name] = (directory / source).read_text()
        documents.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": generator["name"]}, "data": data})
    for generator in kustomization.get("secretGenerator", []):
        documents.append({"apiVersion": "v1", "kind": "Secret",
                          "metadata": {"name": generator["name"]},
                          "stringData": _generated_secret(directory, generator)})
    return documents


def _secret_file(directory: Path, source: str) -> Path:
    """The deployment's own file if it has one, else its committed ``.example``."""
    path = directory / source
    return path if path.exists() else path.with_name(path.name + ".example")


def _generated_secret(directory: Path, generator: dict) -> dict:
    data = {}
    for source in generator.get("envs", []):
        for line in _secret_file(directory, source).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                data[key.strip()] = value
    for spec in generator.get("files", []):
        key, _, source = spec.rpartition("=") if "=" in spec else (None, None, spec)
        data[key or Path(source).name] = _secret_file(directory, source).read_text()
    return data


@lru_cache(maxsize=1)
def k8s_documents() -> tuple[dict, ...]:
    """Every object ``kubectl apply -k deploy/k8s`` creates (files and generated ConfigMaps),
    read from the kustomizations without kubectl."""
    return tuple(_kustomization_documents(K8S))


def k8s_objects(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container_env(container: dict) -> tuple[dict, list[tuple[str, str]]]:
    """A container's literal ``env`` values, and its envFrom references (kind, name)."""
    literal = {e["name"]: e.get("value") for e in container.get("env", [])}
    refs = []
    for source in container.get("envFrom", []):
        for kind in ("configMapRef", "secretRef"):
            if kind in source:
                refs.append((kind, source[kind]["name"]))
    return literal, refs


def resolved_env(container: dict) -> dict:
    """The variables a container gets: its envFrom ConfigMaps/Secrets, then its own env."""
    literal, refs = container_env(container)
    env = {}
    for kind, name in refs:
        obj = k8s_objects("ConfigMap" if kind == "configMapRef" else "Secret")[name]
        env.update(obj.get("data") or {})
        env.update(obj.get("stringData") or {})
    env.update(literal)
    return env


# --- Dockerfile and its build context -----------------------------------------------------

def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        logical.append(current)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "")
            for text in logical]


def copy_sources(instructions) -> list[str]:
    sources = []
    for name, arguments in instructions:
        if name in ("COPY", "ADD"):
            parts = [p for p in arguments.split() if not p.startswith("--")]
            sources += parts[:-1]
    return sources


def dockerignore_patterns(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _pattern_matches(pattern: str, relative: str) -> bool:
    """Docker's rule: a pattern matches a path or any of its parent directories; ``**``
    matches any number of directories."""
    regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    parts = relative.split("/")
    return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether the build context drops ``relative`` (last matching pattern wins)."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.lstrip("!"), relative):
            result = not negated
    return result


def run_time_data_files() -> list[str]:
    """Files next to the code that the services read at run time (repository-relative)."""
    patterns = ("services/*/migrations/**/*", "services/*/templates/**/*", "calls/*.yaml")
    found = set()
    for pattern in patterns:
        found |= {str(p.relative_to(ROOT)) for p in ROOT.glob(pattern)
                  if p.is_file() and "__pycache__" not in p.parts}
    return sorted(found)


# --- PromQL --------------------------------------------------------------------------------

_PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                    "group_right", "offset", "bool", "inf", "nan", "atan2"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are not functions, keywords,
    label names (in matchers and by/on clauses), durations or strings."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)         # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:$])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name in _PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def _sample_names(family) -> set[str]:
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                                  "_created"),
                "summary": ("", "_sum", "_count", "_created"), "gauge": ("",),
                "info": ("_info",), "stateset": ("",), "gaugehistogram": ("_bucket", "_gsum",
                                                                            "_gcount"),
                "unknown": ("",)}[family.type]
    return {family.name + suffix for suffix in suffixes}


def defined_metric_names() -> set[str]:
    """Every series name the services' processes can expose on /metrics: the default
    registry after importing shared.metrics and each service class (and what they import)."""
    from prometheus_client import REGISTRY

    from shared.config import SERVICE_CLASSES

    importlib.import_module("shared.metrics")
    for target in SERVICE_CLASSES.values():
        importlib.import_module(target.partition(":")[0])
    names = set()
    for family in REGISTRY.collect():
        names |= _sample_names(family)
    return names


def known_environment_variables() -> set[str]:
    """GRANTFLOW_* variables the code reads: ``env("NAME")`` of shared.config (and its callers),
    ``GRANTFLOW_<SVC>_DATABASE_URL`` per service, per-service settings with a general
    fallback (``GRANTFLOW_DB_POOL_SIZE`` and ``GRANTFLOW_<SVC>_DB_POOL_SIZE``), and literal
    ``"GRANTFLOW_X"`` lookups."""
    from shared.config import SERVICES

    known = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("grantflow/**/*.py"),
                 *ROOT.glob("services/**/*.py")]:
        text = path.read_text()
        known |= {f"GRANTFLOW_{n}" for n in re.findall(r"\benv\(\s*[\"']([A-Z0-9_]+)[\"']", text)}
        known |= {f"GRANTFLOW_{n}" for n in re.findall(r"[\"']GRANTFLOW_([A-Z0-9_]+)[\"']", text)}
        for suffix in re.findall(r"\benv\(f[\"']\{service\.upper\(\)\}_([A-Z0-9_]+)[\"']", text):
            known |= {f"GRANTFLOW_{s.upper()}_{suffix}" for s in SERVICES}
        # settings read per service with a general fallback: service_setting(service, "X")
        # and the helpers built on it (_count/_flag(service, "X", ...))
        for name in re.findall(r"\b(?:service_setting|_count|_flag)\(\s*service,\s*[\"']"
                               r"([A-Z0-9_]+)[\"']", text):
            known |= {f"GRANTFLOW_{name}"} | {f"GRANTFLOW_{s.upper()}_{name}" for s in SERVICES}
    return known


def grafana_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels += panel.get("panels", [])  # collapsed rows keep their panels inside
    return panels

