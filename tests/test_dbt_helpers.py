"""Pure helpers between Dagster and dbt: partitions → vars, models → groups."""

from __future__ import annotations

import json

from pipelines.assets.marts import LayerTranslator, dbt_build_args, dbt_vars


def test_one_month_becomes_one_month_of_vars():
    assert dbt_vars(["2024-03"]) == {"min_periode": "2024-03-01", "max_periode": "2024-03-01"}


def test_a_partition_range_becomes_its_first_and_last_month_in_any_order():
    assert dbt_vars(["2024-05", "2023-02", "2024-01"]) == {"min_periode": "2023-02-01", "max_periode": "2024-05-01"}


def test_build_args_pass_the_vars_as_json():
    args = dbt_build_args(["2026-10"])
    assert args[:2] == ["build", "--vars"] and json.loads(args[2]) == {
        "min_periode": "2026-10-01", "max_periode": "2026-10-01"}


def test_models_are_grouped_by_their_layer_folder():
    translator = LayerTranslator()
    model = {"resource_type": "model", "fqn": ["ali93", "marts", "mart_ali_mensuel"], "config": {}}
    staging = {"resource_type": "model", "fqn": ["ali93", "staging", "stg_raw__beneficiaires"], "config": {}}
    assert translator.get_group_name(model) == "marts"
    assert translator.get_group_name(staging) == "staging"
