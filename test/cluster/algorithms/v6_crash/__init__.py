"""An algorithm that fails: the wrapper logs the traceback and the container exits 1."""


class AlgorithmCrash(RuntimeError):
    """Raised on purpose, so the traceback names it."""


def crash(message: str = "this algorithm crashes on purpose") -> None:
    raise AlgorithmCrash(message)
