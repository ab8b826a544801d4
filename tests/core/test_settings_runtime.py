"""Settings that only show their effect after seconds of real use (an idle websocket, two
processes writing to SQLite), checked where they are decided."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from channels.layers import get_channel_layer
from channels_redis.utils import create_pool
from django.conf import settings


def test_an_idle_websocket_outlives_the_channel_layers_blocking_receive():
    layer = get_channel_layer()
    pool = create_pool(layer.hosts[0])
    timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout
    # redis-py's default (5 s) equals channels_redis' BZPOPMIN wait: every idle websocket died.
    assert timeout is None or timeout > layer.brpop_timeout


def test_the_embedded_sqlite_database_takes_its_write_lock_when_a_transaction_begins():
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default']['OPTIONS']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    options = json.loads(out.stdout.strip().splitlines()[-1])
    assert options["transaction_mode"] == "IMMEDIATE"
    assert options["timeout"] >= 10


def test_litellm_always_reads_its_bundled_price_map_once_settings_are_loaded():
    # litellm reads the switch when the gateway imports it, after every process has loaded
    # settings; an operator's environment cannot make it fetch prices from the network.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "LITELLM_LOCAL_MODEL_COST_MAP": "False"}
    code = "import django, os; django.setup(); print(os.environ['LITELLM_LOCAL_MODEL_COST_MAP'])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "True"
