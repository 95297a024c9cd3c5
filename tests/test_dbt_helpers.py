"""Pure helpers between Dagster and dbt: partitions → months, parse state, models → groups."""

from __future__ import annotations

import os

from pipelines.assets.marts import LayerTranslator, dbt_months_env, environment, keep_parse_state, prune_invocations


def test_one_month_becomes_one_month_for_dbt():
    assert dbt_months_env(["2024-03"]) == {"ALI_MIN_PERIODE": "2024-03-01", "ALI_MAX_PERIODE": "2024-03-01"}


def test_a_partition_range_becomes_its_first_and_last_month_in_any_order():
    assert dbt_months_env(["2024-05", "2023-02", "2024-01"]) == {
        "ALI_MIN_PERIODE": "2023-02-01", "ALI_MAX_PERIODE": "2024-05-01"}


def test_the_months_are_in_the_environment_only_while_dbt_starts(monkeypatch):
    monkeypatch.setenv("ALI_MAX_PERIODE", "2020-01-01")
    monkeypatch.delenv("ALI_MIN_PERIODE", raising=False)
    with environment(dbt_months_env(["2024-03"])):
        assert (os.environ["ALI_MIN_PERIODE"], os.environ["ALI_MAX_PERIODE"]) == ("2024-03-01", "2024-03-01")
    assert "ALI_MIN_PERIODE" not in os.environ and os.environ["ALI_MAX_PERIODE"] == "2020-01-01"


def test_the_invocations_parse_state_becomes_the_projects(tmp_path):
    project, invocation = tmp_path / "target", tmp_path / "target" / "dbt_models-1234567-abcdef0"
    invocation.mkdir(parents=True)
    (project / "partial_parse.msgpack").write_bytes(b"set-up")
    assert not keep_parse_state(invocation, project)  # the invocation failed before writing one
    assert (project / "partial_parse.msgpack").read_bytes() == b"set-up"
    (invocation / "partial_parse.msgpack").write_bytes(b"run")
    assert keep_parse_state(invocation, project)
    assert (project / "partial_parse.msgpack").read_bytes() == b"run"
    assert sorted(p.name for p in project.iterdir()) == ["dbt_models-1234567-abcdef0", "partial_parse.msgpack"]


def test_models_are_grouped_by_their_layer_folder():
    translator = LayerTranslator()
    model = {"resource_type": "model", "fqn": ["ali93", "marts", "mart_ali_mensuel"], "config": {}}
    staging = {"resource_type": "model", "fqn": ["ali93", "staging", "stg_raw__beneficiaires"], "config": {}}
    assert translator.get_group_name(model) == "marts"
    assert translator.get_group_name(staging) == "staging"


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path):
    for n in range(5):
        folder = tmp_path / f"dbt_models-{n:03d}-x"
        folder.mkdir()
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_700_000_000 + 10 * (5 - n), 1_700_000_000 + 10 * (5 - n)))  # 000 is the newest
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "compiled").mkdir()
    assert prune_invocations(tmp_path, keep=2) == ["dbt_models-004-x", "dbt_models-003-x", "dbt_models-002-x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compiled", "dbt_models-000-x", "dbt_models-001-x",
                                                          "manifest.json"]
