"""LoginChallenge moved from certificates to esign without touching its table.

certificates 0007 drops the model from that app's state and esign 0001 takes it over, both
state only (``SeparateDatabaseAndState``), and esign 0002 hands the content type over. So
challenges issued before the deploy still log in after it: the rows are never copied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from esign.models import LoginChallenge

BEFORE = [("certificates", "0006_loginchallenge_expires_index")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    # Whatever the test did, the database ends where the rest of the suite expects it.
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_migrating_forward_keeps_the_existing_challenges(executor: MigrationExecutor) -> None:
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    OldChallenge = old_apps.get_model("certificates", "LoginChallenge")
    assert OldChallenge._meta.db_table == LoginChallenge._meta.db_table
    now = timezone.now()
    open_one = OldChallenge.objects.create(
        nonce=b"n" * 32, binding_hash="a" * 64, created_at=now, expires_at=now + dt.timedelta(1)
    )
    used = OldChallenge.objects.create(
        nonce=b"u" * 32, binding_hash="b" * 64, expires_at=now, used_at=now
    )

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = {row.pk: row for row in LoginChallenge.objects.all()}
    assert set(rows) == {open_one.pk, used.pk}
    assert bytes(rows[open_one.pk].nonce) == b"n" * 32
    assert rows[open_one.pk].binding_hash == "a" * 64
    assert rows[open_one.pk].expires_at == open_one.expires_at
    assert rows[open_one.pk].used_at is None
    assert rows[used.pk].used_at == now


def test_the_content_type_moves_with_the_model(executor: MigrationExecutor) -> None:
    ContentType.objects.filter(model="loginchallenge").delete()
    executor.migrate(BEFORE)
    old = ContentType.objects.create(app_label="certificates", model="loginchallenge")

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert ContentType.objects.get(pk=old.pk).app_label == "esign"
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(LoginChallenge).pk == old.pk

    executor.loader.build_graph()
    executor.migrate(BEFORE)
    assert ContentType.objects.get(pk=old.pk).app_label == "certificates"
