"""How a job ends other than by returning its result."""

from __future__ import annotations


class JobError(Exception):
    """The job cannot finish; its message is the one line the API shows (say what and why)."""


class JobCancelled(Exception):
    """Someone asked the job to stop; raised at the job's next progress report or checkpoint."""


class JobInterrupted(Exception):
    """The process running the job is shutting down; the job is recorded as failed."""


class JobTimedOut(JobError):
    """The job ran past its kind's time limit."""


def one_line(text: str, limit: int = 1000) -> str:
    """The first non-empty line, cut to ``limit`` characters: what the API shows of an error."""
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    line = line or "failed without a message"
    return line if len(line) <= limit else line[: limit - 1] + "…"
