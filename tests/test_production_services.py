"""The production path: Celery workers over a Redis broker, rate limits kept in Redis.

The embedded default runs jobs in-process; these tests prove the same email leaves through
a real broker and a real worker, and that limits hold across app instances sharing Redis.
"""

from __future__ import annotations

import os
import uuid

import pytest

from portal.extensions import db
from portal.notifications.models import EmailStatus, OutboxEmail
from portal.notifications.outbox import queue_email
from portal.testing.helpers import post_form

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def test_an_email_goes_through_the_redis_broker_and_a_worker(app, redis_url, smtp_sink):
    from celery.contrib.testing.worker import start_worker

    from portal.jobs import init_app as init_jobs

    queue_name = f"portal-test-{uuid.uuid4().hex[:8]}"
    app.config["CELERY_BROKER_URL"] = redis_url
    celery_app = init_jobs(app)
    celery_app.conf.task_default_queue = queue_name
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[queue_name],
                          shutdown_timeout=20):
            email = queue_email(recipient="queued@example.com", kind="identity/password_changed",
                                locale="en", name="CHAN Tai Man",
                                reset_link="http://portal.test/password/forgotten")
            db.session.commit()
            [message] = smtp_sink.wait_for("queued@example.com", timeout=20)
            assert message["Subject"] == "Your password has been changed"
        db.session.expire_all()
        assert db.session.get(OutboxEmail, email.id).status == EmailStatus.SENT
    finally:
        app.config["CELERY_BROKER_URL"] = ""
        init_jobs(app)
        import redis

        server = redis.Redis.from_url(redis_url)
        for key in server.keys(f"*{queue_name}*"):
            server.delete(key)


def test_rate_limits_are_kept_in_redis(redis_url, portal_database_url, smtp_sink, tmp_path):
    """Counters live in Redis, so every app server behind a load balancer shares them."""
    import redis
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import limiter
    from portal.testing.client import IsolatedClient
    from portal.testing.plugin import TEST_SECRET_KEY

    prefix = f"portal-test-{uuid.uuid4().hex[:8]}"
    config = {
        "TESTING": True, "ENVIRONMENT": "testing", "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_URL": portal_database_url, "INSTANCE_PATH": str(tmp_path),
        "RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": prefix,
        "SIGN_IN_RATE_LIMIT": "3 per minute",
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port,
    }
    application = create_app(config)
    application.test_client_class = IsolatedClient
    server = redis.Redis.from_url(redis_url)
    try:
        with application.app_context():
            upgrade(revision="heads")
            client = application.test_client()
            statuses = [
                post_form(client, "/sign-in", {"email": "a@example.com", "password": "x" * 12})
                .status_code
                for _ in range(5)
            ]
            assert statuses == [200, 200, 200, 429, 429]
            counters = server.keys(f"*{prefix}*")
            assert counters, "no rate-limit counters were written to Redis"
            limiter.reset()
            db.session.remove()
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        for key in server.keys(f"*{prefix}*"):
            server.delete(key)
        # The limiter is one object per process: give it back in-memory storage, as the
        # other tests expect.
        create_app({**config, "RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_KEY_PREFIX": ""})
