"""Databases for the store and workflow tests: a real SQLite file, and a real PostgreSQL database
created for the run on the server SCRUBBER_TEST_POSTGRES_URL names (dropped afterwards)."""
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text


def _import_installed_package() -> None:
    """SCRUBBER_TEST_INSTALLED=1 (.ci/run's compiled-build step): test the package installed in
    the interpreter's site-packages (a compiled wheel) instead of the sources beside these tests.
    Importing the three packages while the checkout is off sys.path pins them; every later import
    of their modules comes from the same place."""
    root = Path(__file__).resolve().parents[1]
    saved = sys.path[:]
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != root]
    try:
        import hl7  # noqa: F401
        import scrubber.engine
        import x12.reader
    finally:
        sys.path[:] = saved
    for module in (scrubber.engine, x12.reader):
        if not module.__file__.endswith(".so"):
            raise RuntimeError(f"SCRUBBER_TEST_INSTALLED=1 but {module.__name__} is not compiled "
                               f"({module.__file__}); install with SCRUBBER_COMPILE=1 pip install .")
    # and the tests' own subprocesses (`python -m scrubber.cli`, `python -c ...`, run from the
    # checkout) import the install too: Python then puts no working folder on their path
    os.environ["PYTHONSAFEPATH"] = "1"


if os.environ.get("SCRUBBER_TEST_INSTALLED") == "1":
    _import_installed_package()

from bench.http_bench import scratch_database  # noqa: E402
from scrubber.store import Store, upgrade  # noqa: E402

POSTGRES = os.environ.get("SCRUBBER_TEST_POSTGRES_URL")
NO_POSTGRES = "SCRUBBER_TEST_POSTGRES_URL is not set: the PostgreSQL variant of this test is skipped"


@pytest.fixture(autouse=True)
def _instance_folder(tmp_path_factory, monkeypatch):
    """Apps made in a test keep their instance files (the session key) out of the checkout."""
    monkeypatch.setenv("SCRUBBER_INSTANCE_PATH", str(tmp_path_factory.getbasetemp() / "instance"))


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh database on the test server for this run."""
    if not POSTGRES:
        pytest.skip(NO_POSTGRES)
    url, drop = scratch_database(POSTGRES, "scrubber_test")
    yield url
    drop()


def _empty_postgres(url: str) -> Store:
    store = Store(url)
    with store.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    return store


@pytest.fixture
def postgres_store(postgres_url):
    """A migrated, empty ledger on PostgreSQL only (for what only PostgreSQL does)."""
    store = _empty_postgres(postgres_url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A migrated, empty ledger on each backend."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    else:
        store = _empty_postgres(request.getfixturevalue("postgres_url"))
    upgrade(store)
    yield store
    store.dispose()
