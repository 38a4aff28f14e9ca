"""Checking an edge agent's config in the cloud, before any agent fetches it.

It runs the agent's own loader, so the cloud refuses exactly what an agent would, with
the same line and field. Two things differ from the agent's side: ``${VAR}`` stays as
written (the variables are the agent machine's, and the cloud's environment must never
leak into a config), and the config must name the agent and site its token is for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from edge_agent.config import parse_config
from edge_agent.config_source import ConfigError, ConfigIssue, Path_, SourceMap, load_yaml_text
from tenants.agent_tokens import PREFIX as TOKEN_PREFIX

CONFIG_NAME = "config"  # the "file" named in each issue: the YAML text of the request


class _VariablesAsWritten(Mapping[str, str]):
    """An environment in which every ``${NAME}`` is set, to the text ``${NAME}``."""

    def __getitem__(self, name: str) -> str:
        return f"${{{name}}}"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _literal_tokens(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _literal_tokens(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _literal_tokens(value, (*path, index))
    elif isinstance(node, str) and node.startswith(TOKEN_PREFIX):
        yield path


def _first_alias(text: str) -> ConfigIssue | None:
    """A YAML alias (``*name``), which the cloud does not take: a few nested aliases
    expand to gigabytes ("billion laughs"), and a config needs none."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                return ConfigIssue(
                    CONFIG_NAME, line, "", "YAML aliases (*name) are not accepted: write it out"
                )
    except yaml.YAMLError:
        return None  # the loader reports it, with its line
    return None


def check_agent_config(text: str, agent_name: str, site: str) -> list[ConfigIssue]:
    """Every problem of ``text`` as the config of agent ``agent_name`` at ``site``."""
    if alias := _first_alias(text):
        return [alias]
    try:
        data, source = load_yaml_text(text, CONFIG_NAME, _VariablesAsWritten())
    except ConfigError as exc:
        return exc.issues
    # Checked on the raw data, so a wrong site is reported along with any other mistake.
    issues = _identity_issues(data, agent_name, site, source)
    try:
        parse_config(data, source)
    except ConfigError as exc:
        issues = exc.issues + issues
    # The config is shown to the tenant's people and kept in the metadata store: a token
    # written into it would leak the agent's credential to all of them.
    issues += [
        source.issue(
            path,
            "an agent token written into the config would be visible to everyone who can"
            " read it: write ${MINGZHOU_AGENT_TOKEN} and set that variable on the agent",
        )
        for path in _literal_tokens(data)
    ]
    return issues


def _identity_issues(data: Any, agent_name: str, site: str, source: SourceMap) -> list[ConfigIssue]:
    section = data.get("agent") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return []  # the schema check reports the missing section
    issues = []
    config_site, name = section.get("site"), section.get("name")
    if config_site is not None and config_site != site:
        issues.append(
            source.issue(
                ("agent", "site"),
                f"site {config_site!r} is not the site of this agent's token ({site!r})",
            )
        )
    if name is not None and name != agent_name:
        issues.append(
            source.issue(
                ("agent", "name"), f"name {name!r} is not this agent's name ({agent_name!r})"
            )
        )
    return issues
