"""Pseudonymisation: the in-database HMAC, the key's origin and the key-change guard (contract §5)."""

from __future__ import annotations

import hashlib
import hmac
import logging

import duckdb
import pytest

from pipelines.raw.pseudonymise import HMAC_SQL, KeyError_, Pseudonymiser, from_environment


@pytest.mark.parametrize("key", [b"k" * 32, b"x" * 64, b"long-key-" * 20])
def test_sql_hmac_equals_python_hmac(key):
    con = duckdb.connect()
    Pseudonymiser(key).bind(con)
    sql = f"SELECT {HMAC_SQL.format(message='m')} FROM ali_cle, (VALUES ('CAF:0123456'), ('MSA:0123456')) t(m)"
    got = [r[0] for r in con.execute(sql).fetchall()]
    assert got == [hmac.new(key, m, hashlib.sha256).hexdigest() for m in (b"CAF:0123456", b"MSA:0123456")]


def test_key_comes_from_the_environment():
    pseudo = from_environment({"ALI_PSEUDONYMISATION_KEY": "s" * 40})
    assert not pseudo.demo and pseudo.key == b"s" * 40
    assert "s" * 40 not in repr(pseudo)


def test_no_key_and_no_demo_mode_refuses_to_run():
    with pytest.raises(KeyError_, match="ALI_PSEUDONYMISATION_KEY"):
        from_environment({})


def test_short_key_is_refused():
    with pytest.raises(KeyError_, match="trop courte"):
        from_environment({"ALI_PSEUDONYMISATION_KEY": "court"})


def test_demo_mode_is_explicit_loud_and_stable(tmp_path, caplog):
    env = {"ALI_DEMO_MODE": "1", "ALI_DEMO_KEY_FILE": str(tmp_path / "demo-key")}
    with caplog.at_level(logging.WARNING):
        first = from_environment(env)
    assert first.demo and "MODE DÉMO" in caplog.text
    assert first.key.decode() not in caplog.text
    assert oct((tmp_path / "demo-key").stat().st_mode & 0o777) == "0o600"
    assert from_environment(env).key == first.key


def test_a_different_key_cannot_write_into_an_existing_warehouse(con):
    Pseudonymiser(b"a" * 40).check_fingerprint(con)
    Pseudonymiser(b"a" * 40).check_fingerprint(con)
    with pytest.raises(KeyError_, match="diffère"):
        Pseudonymiser(b"b" * 40).check_fingerprint(con)
    stored = con.execute("SELECT valeur FROM raw.parametres").fetchall()
    assert stored == [(Pseudonymiser(b"a" * 40).fingerprint(),)] and "a" * 40 not in stored[0][0]
