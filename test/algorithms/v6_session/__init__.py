"""A vantage6 5 session algorithm for testing the v6-node agent (vantage6-algorithm-tools 5.0.3).

A session goes: ``read_csv`` (data extraction) makes a dataframe from the node's CSV database,
``add_column`` (preprocessing) adds a derived column to it, ``partial_sum`` (federated compute)
sums a column of it, and ``average`` (central compute) asks ``partial_sum`` of the organizations
and combines their answers. ``crash`` and ``sleep`` are there for the run outcomes a node must
report: an algorithm that fails, and one that runs until it is killed.

Task arguments are the functions' keyword arguments (the task's ``arguments`` JSON object), e.g.
``{"column": "age", "factor": 12, "new_column": "age_months"}`` for ``add_column``.
"""

import math
import os
import time

import pandas as pd

from vantage6.algorithm.client import AlgorithmClient
from vantage6.algorithm.decorator import (
    algorithm_client,
    central,
    data_extraction,
    dataframe,
    federated,
    preprocessing,
)
from vantage6.algorithm.tools.util import info


class AlgorithmCrash(RuntimeError):
    """Raised on purpose by ``crash``."""


class ProxyUnreachableError(ConnectionError):
    """The node's proxy did not answer: the central function cannot reach HQ."""


@data_extraction
def read_csv(connection_details: dict) -> pd.DataFrame:
    """The node's CSV database as a dataframe (the node stores it in the session)."""
    info(f"Reading the {connection_details['type']} database at {connection_details['uri']}")
    return pd.read_csv(connection_details["uri"])


@preprocessing
def add_column(df: pd.DataFrame, column: str, factor: float, new_column: str) -> pd.DataFrame:
    """The dataframe with ``new_column`` = ``column`` * ``factor``, e.g. age in months."""
    _require_column(df, column)
    df[new_column] = pd.to_numeric(df[column], errors="raise") * factor
    info(f"Added column {new_column!r} = {column!r} * {factor}")
    return df


@federated
@dataframe(1)
def partial_sum(df: pd.DataFrame, column: str) -> dict:
    """The sum and count of the non-missing numeric values of ``column``."""
    _require_column(df, column)
    values = pd.to_numeric(df[column], errors="raise").dropna()
    info(f"Column {column!r}: {len(values)} values")
    return {"sum": float(values.sum()), "count": int(values.count())}


@central
@algorithm_client
def average(client: AlgorithmClient, column: str, organizations: list[int] | None = None,
            connect_attempts: int = 10) -> dict:
    """The mean of ``column`` over the organizations' dataframes.

    The subtask runs ``partial_sum`` on the dataframes of this task: algorithm-tools 5.0.3 takes
    them from the container token (``client.databases``), so this function reads no data itself.
    ``organizations``: the ids to ask; default every organization of the collaboration.
    """
    if not _proxy_answers(client, connect_attempts):
        raise ProxyUnreachableError(
            f"no answer from the node's proxy at {os.environ.get('HOST')}:{os.environ.get('PORT')} "
            f"after {connect_attempts} connection attempts"
        )
    if organizations is None:
        organizations = [org["id"] for org in client.organization.list()]
    partials = pd.DataFrame(_partial_sums(client, column, organizations), columns=["sum", "count"])
    total = math.fsum(partials["sum"])
    count = int(partials["count"].sum())
    return {
        "average": total / count if count else None,
        "sum": total,
        "count": count,
        "organizations": len(partials),
    }


@federated
def crash(message: str = "crashed on purpose") -> dict:
    """Raises: the wrapper logs the error and exits 1."""
    raise AlgorithmCrash(message)


@federated
def sleep(seconds: float = 3600) -> dict:
    """Sleeps ``seconds`` (a run that stays active until it is killed), then says so."""
    info(f"Sleeping {seconds} s")
    time.sleep(seconds)
    return {"slept": seconds}


def _partial_sums(client: AlgorithmClient, column: str, organizations: list[int]) -> list[dict]:
    """``partial_sum`` of each organization, by a subtask on this task's dataframes."""
    subtask = client.task.create(
        method="partial_sum",
        arguments={"column": column},
        organizations=organizations,
        name="partial_sum",
    )
    if "id" not in subtask:
        raise RuntimeError(f"HQ did not create the subtask: {subtask}")
    info(f"Subtask {subtask['id']}: partial_sum of {column!r} at organizations {organizations}")
    # Runs without a result (failed ones) are left out of the list (Result.from_task).
    results = client.wait_for_results(task_id=subtask["id"])
    missing = len(organizations) - len(results)
    if missing:
        raise RuntimeError(f"{missing} of {len(organizations)} organizations gave no partial sum")
    return results


def _proxy_answers(client: AlgorithmClient, attempts: int) -> bool:
    """Whether the node's proxy answers within ``attempts`` connection attempts, a second apart.

    Asked first because the client's other requests retry a refused connection forever
    (``ClientBase.request``): a run whose proxy is unreachable would hang until its deadline.
    """
    reply = client.request(f"collaboration/{client.collaboration_id}", attempts_on_timeout=attempts)
    return reply != {"msg": "Connection error"}


def _require_column(df: pd.DataFrame, column: str) -> None:
    if column not in df.columns:
        raise KeyError(f"column {column!r} is not in the data (columns: {list(df.columns)})")

