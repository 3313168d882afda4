"""/livez and /readyz without sign-in, request ids on every answer, and the profile's checks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ops.server import ProfileError, check_profile
from settings import Settings
from store.engine import get_engine


def _client(settings: Settings) -> FlaskClient:
    from app import create_app

    return create_app(settings).server.test_client()


def test_probes_answer_without_sign_in(settings: Settings) -> None:
    client = _client(settings)
    assert client.get("/livez").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["checks"] == {"database": "ok", "schema": "ok", "snapshot": "ok"}
    assert client.get("/").status_code in (302, 401)  # the rest still needs a sign-in


def test_readyz_is_not_ready_while_the_first_snapshot_loads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker warming its snapshot sends load balancers elsewhere, then is ready."""
    from store import columnar

    client = _client(settings)
    engine = get_engine(settings.database_url, settings.spatialite_path)
    columnar.clear_cache()
    gate = threading.Event()
    real = columnar.event_columns

    def slow(*, session):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return real(session=session)

    monkeypatch.setattr(columnar, "event_columns", slow)
    warm = threading.Thread(target=columnar.warm_cache, args=(engine,))
    warm.start()
    try:
        deadline = time.monotonic() + 10
        while not columnar.warming(engine) and time.monotonic() < deadline:
            time.sleep(0.01)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["snapshot"] == "warming"
    finally:
        gate.set()
        warm.join(30)
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_when_redis_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    ready = _client(broken).get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["redis"].startswith("unreachable")


def test_readyz_checks_redis_when_configured(settings: Settings, redis_url: str) -> None:
    ready = _client(settings.model_copy(update={"redis_url": redis_url})).get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"] == "ok"


def test_readyz_fails_on_a_schema_behind_the_code(tmp_path: Path) -> None:
    empty = Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}", env="test")
    ready = _client(empty).get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["schema"].startswith("at None")


def test_every_answer_carries_a_request_id(settings: Settings) -> None:
    client = _client(settings)
    generated = client.get("/livez").headers["X-Request-ID"]
    assert len(generated) == 32
    assert (
        client.get("/livez", headers={"X-Request-ID": "lb-42"}).headers["X-Request-ID"] == "lb-42"
    )
    hostile = client.get("/livez", headers={"X-Request-ID": "<script>x</script>"})
    assert hostile.headers["X-Request-ID"] != "<script>x</script>"  # never echoed raw


@pytest.mark.parametrize(
    ("url", "secret", "workers", "refused"),
    [
        ("sqlite:///var/x.sqlite", "s3cret-s3cret", 2, True),
        ("sqlite:///var/x.sqlite", "s3cret-s3cret", 1, False),
        ("postgresql://u@h/db", "", 4, True),
        ("postgresql://u@h/db", "s3cret-s3cret", 4, False),
    ],
)
def test_check_profile(url: str, secret: str, workers: int, refused: bool) -> None:
    settings = Settings(database_url=url, secret_key=secret, env="test")
    if refused:
        with pytest.raises(ProfileError):
            check_profile(settings, workers)
    else:
        check_profile(settings, workers)
