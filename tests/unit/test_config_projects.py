"""Several projects in one daemon (`workspace.projects`): what each inherits, what it overrides, its own
credentials, and the mistakes that are refused with file:line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import ConfigError, Credentials, load_settings

TWO_PROJECTS = """\
workspace:
  region: cn-north-4
  poll_interval: 2m
  concurrency: 8
  projects:
    - name: beijing-prod
      project_id: p-beijing
    - name: shanghai-finance
      project_id: p-shanghai
      region: cn-east-3
      credentials: FINANCE
    - name: lab
      project_id: p-lab
      endpoint: http://127.0.0.1:8900
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_without_projects_the_one_project_is_named_by_its_id(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "workspace:\n  project_id: p-1\n"), env={})
    [(name, prefix, project)] = settings.workspace.per_project()
    assert (name, prefix, project.project_id) == ("p-1", None, "p-1")


def test_projects_inherit_and_override(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROJECTS), env={})
    projects = {name: (prefix, s) for name, prefix, s in settings.workspace.per_project()}
    assert list(projects) == ["beijing-prod", "shanghai-finance", "lab"]
    beijing, shanghai, lab = (projects[name][1] for name in projects)
    assert (beijing.project_id, beijing.region, beijing.endpoint) == ("p-beijing", "cn-north-4", None)
    assert (shanghai.project_id, shanghai.region) == ("p-shanghai", "cn-east-3")
    assert (lab.endpoint, lab.region) == ("http://127.0.0.1:8900", "cn-north-4")
    for _, project in projects.values():
        assert project.poll_interval == timedelta(minutes=2)
        assert project.concurrency == 8
        assert project.projects == ()
    assert projects["shanghai-finance"][0] == "FINANCE"
    assert projects["beijing-prod"][0] is None


def test_the_environment_project_id_does_not_add_a_project(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, TWO_PROJECTS), env={"HUAWEICLOUD_SDK_PROJECT_ID": "p-env"})
    assert settings.workspace.project_id is None
    assert len(settings.workspace.per_project()) == 3


def test_a_project_reads_its_own_prefixed_credentials_and_never_the_shared_ones() -> None:
    env = {
        "HUAWEICLOUD_SDK_AK": "shared-ak",
        "HUAWEICLOUD_SDK_SK": "shared-sk",
        "FINANCE_HUAWEICLOUD_SDK_AK": "finance-ak",
        "FINANCE_HUAWEICLOUD_SDK_SK": "finance-sk",
    }
    finance = Credentials.from_env(env, "FINANCE")
    assert (finance.access_key, finance.secret_key) == ("finance-ak", "finance-sk")
    assert Credentials.from_env(env, "OTHER").access_key is None
    assert Credentials.from_env(env).access_key == "shared-ak"


@pytest.mark.parametrize(
    ("projects", "problem"),
    [
        ("  project_id: p-1\n  projects:\n    - {name: a, project_id: p-2}\n", "not both"),
        (
            "  projects:\n    - {name: a, project_id: p-1}\n    - {name: a, project_id: p-2}\n",
            "a more than once",
        ),
        ("  projects:\n    - {name: 'bad name', project_id: p-1}\n", "projects.0.name"),
        ("  projects:\n    - {name: a}\n", "projects.0.project_id"),
        ("  projects:\n    - {name: a, project_id: p-1, credentials: finance}\n", "projects.0.credentials"),
        ("  projects:\n    - {name: a, project_id: p-1, colour: red}\n", "unknown setting"),
    ],
)
def test_project_mistakes_are_refused_with_the_line(tmp_path: Path, projects: str, problem: str) -> None:
    path = write(tmp_path, "workspace:\n" + projects)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert problem in str(caught.value)
    assert f"{path}:" in str(caught.value)
