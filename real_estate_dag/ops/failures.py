"""The cause of a failed step in one line, as the failure webhook and the CLI report it."""

import re
from collections.abc import Sequence

# Errors that only wrap the real one: Dagster's own, and the RetryRequested whose retries ran out
# ("Exceeded max_retries of 3"), which carries the transient error as its cause.
WRAPPERS = re.compile(r"^(Dagster\w*|RetryRequested)$")


def step_failure_text(description: str | None, chain: Sequence[tuple[str | None, str]]) -> str:
    """A ``Failure``'s description when the step raised one, else the first error in the chain (outermost
    first) that is not a wrapper, as ``ClassName: message`` without module paths, on one line."""
    if description and description.strip():
        return " ".join(description.split())
    real = [(name, message) for name, message in chain if not (name and WRAPPERS.match(name))]
    if not real:
        return " ".join(chain[0][1].split()) if chain else "failed without an error"
    name, message = real[0]
    text = " ".join(message.split())
    if name:
        text = re.sub(rf"^[\w.]*\b{re.escape(name)}: ", "" if name == "Failure" else f"{name}: ", text)
    return text
