"""SQLSTATE -> convstream error mapping, with psycopg error classes instantiated directly."""

from __future__ import annotations

import psycopg
import psycopg.errors as pe
import pytest
from psycopg_pool import PoolTimeout, TooManyRequests

from consumer.adapters.postgres.errors import is_transient_sqlstate, translate
from consumer.errors import StoreError, StoreUnavailableError

TRANSIENT = [
    (pe.SerializationFailure, "40001"),
    (pe.DeadlockDetected, "40P01"),
    (pe.StatementCompletionUnknown, "40003"),
    (pe.AdminShutdown, "57P01"),
    (pe.CrashShutdown, "57P02"),
    (pe.CannotConnectNow, "57P03"),
    (pe.QueryCanceled, "57014"),
    (pe.TooManyConnections, "53300"),
    (pe.DiskFull, "53100"),
    (pe.OutOfMemory, "53200"),
    (pe.ReadOnlySqlTransaction, "25006"),
    (pe.LockNotAvailable, "55P03"),
    (pe.ConnectionException, "08000"),
    (pe.ConnectionFailure, "08006"),
    (pe.SqlclientUnableToEstablishSqlconnection, "08001"),
]

PERMANENT = [
    (pe.UndefinedTable, "42P01"),
    (pe.SyntaxError, "42601"),
    (pe.InsufficientPrivilege, "42501"),
    (pe.UniqueViolation, "23505"),
    (pe.NotNullViolation, "23502"),
    (pe.InvalidPassword, "28P01"),
    (pe.InvalidCatalogName, "3D000"),
    (pe.CardinalityViolation, "21000"),
    (pe.InvalidTextRepresentation, "22P02"),
]


@pytest.mark.parametrize(("cls", "sqlstate"), TRANSIENT)
def test_transient_sqlstates(cls: type[psycopg.Error], sqlstate: str) -> None:
    error = translate(cls("server said no"), action="write batch")
    assert isinstance(error, StoreUnavailableError)
    assert error.sqlstate == sqlstate
    assert "write batch" in str(error)
    assert sqlstate in str(error)


@pytest.mark.parametrize(("cls", "sqlstate"), PERMANENT)
def test_permanent_sqlstates(cls: type[psycopg.Error], sqlstate: str) -> None:
    error = translate(cls("server said no"))
    assert isinstance(error, StoreError)
    assert not isinstance(error, StoreUnavailableError)
    assert error.sqlstate == sqlstate


def test_lookup_by_sqlstate_matches_the_class() -> None:
    assert isinstance(translate(pe.lookup("40P01")("x")), StoreUnavailableError)
    assert isinstance(translate(pe.lookup("42703")("x")), StoreError)


def test_connection_failure_without_sqlstate_is_transient() -> None:
    error = translate(psycopg.OperationalError("connection refused"))
    assert isinstance(error, StoreUnavailableError)
    assert error.sqlstate is None


@pytest.mark.parametrize("cls", [PoolTimeout, TooManyRequests])
def test_pool_exhaustion_is_transient(cls: type[psycopg.Error]) -> None:
    assert isinstance(translate(cls("couldn't get a connection after 5.00 sec")), StoreUnavailableError)


@pytest.mark.parametrize("cls", [psycopg.InterfaceError, psycopg.ProgrammingError, psycopg.DataError])
def test_client_side_errors_without_sqlstate_are_permanent(cls: type[psycopg.Error]) -> None:
    error = translate(cls("misuse"))
    assert isinstance(error, StoreError)
    assert error.sqlstate is None


def test_empty_message_still_names_the_error() -> None:
    assert "SerializationFailure" in str(translate(pe.SerializationFailure()))


@pytest.mark.parametrize(("sqlstate", "transient"), [("08P01", True), ("53400", True), ("40002", False)])
def test_is_transient_sqlstate(sqlstate: str, transient: bool) -> None:
    assert is_transient_sqlstate(sqlstate) is transient
