"""A deduplicator started with another partition count than its topics refuses to run.

Its routing computes partitions modulo ``MARSAD_PARTITIONS``; on topics of
another count the replies would go astray and every article would wait for
them forever.  Topics are never re-partitioned at start-up, so the worker
stops with a message naming the topics instead (docs/deduplicator.md says
how to change the count).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from marsad.settings import Settings
from marsad.topics import ALL_TOPICS, INTERNAL_TOPICS, ensure_topics
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def test_worker_refuses_topics_with_another_partition_count(broker: str, tmp_path: Path) -> None:
    prefix = f"c{uuid.uuid4().hex[:8]}."
    # Topics as a one-partition deployment created them.
    asyncio.run(ensure_topics(Settings(bootstrap_servers=broker, topic_prefix=prefix),
                              ALL_TOPICS + INTERNAL_TOPICS))
    env = {**os.environ, "MARSAD_BOOTSTRAP_SERVERS": broker, "MARSAD_TOPIC_PREFIX": prefix,
           "MARSAD_APP_ID": f"{prefix}marsad", "MARSAD_METRICS_PORT": str(free_port()),
           "MARSAD_PARTITIONS": "4"}
    done = subprocess.run([sys.executable, "-m", "marsad", "worker", "deduplicator"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"MARSAD_PARTITIONS is 4 but {prefix}articles.extracted has 1" in done.stderr
