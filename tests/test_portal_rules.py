"""The portal's pure rules: the month it accepts, the name it gives a file, the back-off's arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.portal.deposit import Refused, check_month, file_name
from pipelines.portal.security import WINDOW_SECONDS, Backoff, same

TODAY = dt.date(2026, 12, 7)


@pytest.mark.parametrize("month, ok", [("2023-02", True), ("2026-12", True), ("2023-01", False),
                                       ("2027-01", False), ("2026-13", False), ("26-12", False), ("", False),
                                       ("2026-1", False), ("../2026-10", False)])
def test_a_deposit_month_runs_from_the_first_partition_to_the_current_month(month, ok):
    if ok:
        assert check_month(month, TODAY) == month
    else:
        with pytest.raises(Refused) as refused:
            check_month(month, TODAY)
        assert refused.value.status == 422


@pytest.mark.parametrize("client, jeu, expected", [
    ("beneficiaires.csv", None, ("beneficiaires", "beneficiaires.csv")),
    ("Bénéficiaires.XLSX", None, ("beneficiaires", "beneficiaires.xlsx")),
    ("PARTICIPATIONS.csv", None, ("participations", "participations.csv")),
    ("export du 3 novembre.xlsx", "conseillers", ("conseillers", "conseillers.xlsx")),
    ("conseillers.ods", None, ("conseillers", "conseillers.ods")),  # the verifier rejects the extension
    ("conseillers", None, ("conseillers", "conseillers")),
])
def test_the_server_names_the_file_from_the_contract_never_from_the_clients_path(client, jeu, expected):
    assert file_name(client, jeu) == expected


@pytest.mark.parametrize("client", ["../../x.csv", "/abs/beneficiaires.csv", "a\\beneficiaires.csv",
                                    "beneficiaires.csv\x00.txt", "beneficiaires\n.csv", ".beneficiaires.csv",
                                    "", "x" * 300 + ".csv", "stagiaires.csv"])
def test_a_client_name_with_a_path_a_control_character_or_no_dataset_is_refused(client):
    with pytest.raises(Refused) as refused:
        file_name(client, None)
    assert refused.value.status == 422


def test_the_back_off_opens_again_when_the_oldest_counted_failure_leaves_the_window():
    backoff = Backoff(attempts=3)
    for t in (0, 10, 20):
        assert backoff.wait("a", now=t) == 0
        backoff.failed("a", now=t)
    assert backoff.wait("a", now=21) == WINDOW_SECONDS - 21 + 1 and backoff.wait("b", now=21) == 0
    assert backoff.wait("a", now=WINDOW_SECONDS) == 0  # the failure at 0 has left the window
    backoff.failed("a", now=WINDOW_SECONDS)
    assert backoff.wait("a", now=WINDOW_SECONDS) > 0
    backoff.succeeded("a")
    assert backoff.wait("a", now=WINDOW_SECONDS) == 0


def test_texts_are_compared_only_when_both_are_there():
    assert same("abc", "abc") and not same("abc", "abd") and not same(None, None) and not same("", "")
