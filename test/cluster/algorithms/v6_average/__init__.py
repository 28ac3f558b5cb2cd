"""A federated mean in the vantage6 4.x algorithm-tools style.

``central_average`` runs at one organization: it creates a subtask ``partial_average`` on the
collaboration's organizations (through the node's proxy), waits for their results and combines
their sums and counts. ``partial_average`` runs at each organization on its first database.
"""

import math
import os

import pandas as pd

from vantage6.algorithm.client import AlgorithmClient
from vantage6.algorithm.tools.decorators import algorithm_client, data
from vantage6.algorithm.tools.util import info


class ProxyUnreachableError(ConnectionError):
    """The node's proxy did not answer: the central function cannot reach the server."""


def _ensure_proxy_reachable(client: AlgorithmClient, attempts: int) -> dict:
    """The collaboration, asked with a bounded number of connection attempts.

    The algorithm client retries a refused connection forever, one second apart; a run without a
    reachable proxy would then hang until its deadline. One bounded request first makes that a
    clear failure instead.
    """
    collaboration = client.request(
        f"collaboration/{client.collaboration_id}", attempts_on_timeout=attempts
    )
    if collaboration == {"msg": "Connection error"}:
        raise ProxyUnreachableError(
            f"the vantage6 proxy at {os.environ.get('HOST')}:{os.environ.get('PORT')} did not "
            f"answer after {attempts} connection attempts; the central function needs the node's "
            "proxy to create subtasks"
        )
    return collaboration


@algorithm_client
def central_average(
    client: AlgorithmClient,
    column: str,
    organizations: list[int] | None = None,
    connect_attempts: int = 10,
) -> dict:
    """The mean of ``column`` over the organizations' data.

    ``organizations``: the ids to ask; default all organizations of the collaboration.
    """
    collaboration = _ensure_proxy_reachable(client, connect_attempts)
    info(f"Collaboration {collaboration.get('name')!r} (id {client.collaboration_id})")
    if organizations is None:
        organizations = [org["id"] for org in client.organization.list()]
    info(f"Creating subtask partial_average on organizations {organizations}")
    task = client.task.create(
        input_={"method": "partial_average", "kwargs": {"column": column}},
        organizations=organizations,
        name="partial_average",
        description=f"partial sums of column {column!r}",
    )
    if "id" not in task:
        raise RuntimeError(f"the server did not create the subtask: {task}")
    info(f"Waiting for the results of subtask {task['id']}")
    results = client.wait_for_results(task_id=task["id"])
    if len(results) != len(organizations):
        raise RuntimeError(
            f"expected {len(organizations)} partial results, got {len(results)}: {results}"
        )
    total = math.fsum(result["sum"] for result in results)
    count = sum(result["count"] for result in results)
    return {
        "average": total / count if count else None,
        "sum": total,
        "count": count,
        "organizations": len(results),
    }


@data(1)
def partial_average(df: pd.DataFrame, column: str) -> dict:
    """The sum and count of the non-missing numeric values of ``column``."""
    if column not in df.columns:
        raise KeyError(f"column {column!r} is not in the data (columns: {list(df.columns)})")
    values = pd.to_numeric(df[column], errors="raise").dropna()
    info(f"Column {column!r}: {len(values)} values")
    return {"sum": float(values.sum()), "count": int(values.count())}
