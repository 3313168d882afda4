"""Real databases: every test here runs once on SpatiaLite and once on PostGIS."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, make_url, text

from settings import Settings
from store.engine import dispose_engines, make_engine
from store.migrate import upgrade

BACKENDS = ["spatialite", "postgis"]


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SpatiaLite file, copied for each test (InitSpatialMetaData is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def spatialite_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SpatiaLite file with the whole demo kit loaded, loaded once per worker.

    The modules that read the demo copy it (a file copy, ~0.1 s) instead of loading the kit
    again (~4 s each); loading itself is tested in test_ingest.py.
    """
    from data_loaders.demo import seed_demo

    path = tmp_path_factory.mktemp("demo-template") / "demo.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    seed_demo(engine, Settings(database_url=url, env="test"))
    engine.dispose()
    dispose_engines()
    return path


def _schema_url(base_url: str, schema: str) -> str:
    # libpq 'options' in the URL: every connection, the app's included, uses the test schema.
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options={quote(f'-csearch_path={schema},public')}"


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, spatialite_template: Path
) -> Iterator[str]:
    """A freshly migrated, empty database URL on each backend."""
    if request.param == "spatialite":
        path = tmp_path / "watchfloor.sqlite"
        shutil.copy(spatialite_template, path)
        yield f"sqlite:///{path}"
        return
    base = request.getfixturevalue("postgis_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, env="test")


@pytest.fixture(scope="session")
def postgis_demo_template(postgis_url: str) -> Iterator[str]:
    """Name of a PostGIS database with the whole demo kit loaded, loaded once per worker.

    Each module's demo database is ``CREATE DATABASE ... TEMPLATE`` of it (~0.2 s) instead of
    loading the kit again (~3-4 s); loading itself is tested in test_ingest.py.
    """
    from data_loaders.demo import seed_demo

    name = f"wf_demo_tpl_{uuid.uuid4().hex[:12]}"
    _create_database(postgis_url, name)
    url = _database_url(postgis_url, name)
    engine = make_engine(url)
    upgrade(engine)  # creates the PostGIS extension in the new database too
    seed_demo(engine, Settings(database_url=url, env="test"))
    engine.dispose()
    dispose_engines()  # a template takes no copies while anyone is connected to it
    try:
        yield name
    finally:
        _drop_database(postgis_url, name)


def _database_url(base_url: str, name: str) -> str:
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _create_database(base_url: str, name: str, template: str | None = None) -> None:
    admin = make_engine(base_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()


def _drop_database(base_url: str, name: str) -> None:
    admin = make_engine(base_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Settings]]:
    """One database per backend and module with the whole demo kit loaded (read-only tests).

    Each is a copy of the worker's loaded template: a file copy on SpatiaLite, a database
    created from the template on PostGIS.
    """
    if request.param == "spatialite":
        path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
        shutil.copy(request.getfixturevalue("spatialite_demo_template"), path)
        url = f"sqlite:///{path}"
    else:
        base = request.getfixturevalue("postgis_url")
        name = f"wf_demo_{uuid.uuid4().hex[:12]}"
        _create_database(base, name, template=request.getfixturevalue("postgis_demo_template"))
        url = _database_url(base, name)
    eng = make_engine(url)
    try:
        yield eng, Settings(database_url=url, env="test")
    finally:
        eng.dispose()
        dispose_engines()
        if request.param == "postgis":
            _drop_database(base, name)
