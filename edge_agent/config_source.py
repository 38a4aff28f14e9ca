"""Reading a YAML file into plain data while remembering where every value came from.

PyYAML's loaders forget line numbers once they build Python objects, and they let a
repeated key silently win. An integrator editing a config on a factory PC needs the
line of a mistake, so we compose the node tree ourselves, keep a map from each value's
path to its line, refuse duplicate keys and expand ``${VAR}`` from the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file, located well enough to fix it without guessing."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """A config file that must not be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


def format_path(path: Path_) -> str:
    """``devices[0].tags[3].address``: the way people point at a field in YAML."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass
class SourceMap:
    """Line (1-based) of each value, keyed by its path in the document."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of the deepest part of ``path`` that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def issue(self, path: Path_, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message)


@dataclass
class _Builder:
    source: SourceMap
    environ: Mapping[str, str]
    issues: list[ConfigIssue] = field(default_factory=list)
    _constructor: yaml.SafeLoader = field(default_factory=lambda: yaml.SafeLoader(""))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value = self._constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            value = self._expand(value, path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._constructor.construct_object(key_node, deep=True)
            key_path = (*path, str(key))
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                self.issues.append(
                    ConfigIssue(
                        self.source.file, line, format_path(path), f"key {key!r} is not a string"
                    )
                )
                continue
            if key in result:
                first = self.source.lines.get(key_path)
                self.issues.append(
                    ConfigIssue(
                        self.source.file,
                        line,
                        format_path(key_path),
                        f"duplicate key '{key}' (first set on line {first})",
                    )
                )
                continue
            self.source.lines[key_path] = line
            result[key] = self.build(value_node, key_path)
        return result

    def _expand(self, value: str, path: Path_) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                self.issues.append(
                    self.source.issue(path, f"environment variable ${{{name}}} is not set")
                )
                return ""
            return self.environ[name]

        return _ENV_VAR.sub(substitute, value)


def load_yaml(path: Path, environ: Mapping[str, str] | None = None) -> tuple[Any, SourceMap]:
    """The document's data and its source map; raises ConfigError on any YAML problem."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(name, None, "", f"cannot read file: {exc.strerror}")]
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"not UTF-8 text: {exc.reason}")]) from exc
    return load_yaml_text(text, name, environ)


def load_yaml_text(
    text: str, name: str, environ: Mapping[str, str] | None = None
) -> tuple[Any, SourceMap]:
    source = SourceMap(name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError([ConfigIssue(name, line, "", f"invalid YAML: {problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(name, None, "", f"invalid YAML: {exc}")]) from exc
    if node is None:
        raise ConfigError([ConfigIssue(name, None, "", "the file is empty")])
    builder = _Builder(source, os.environ if environ is None else environ)
    data = builder.build(node, ())
    if builder.issues:
        raise ConfigError(builder.issues)
    return data, source
