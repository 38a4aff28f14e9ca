"""Job kinds for the jobs tests (loaded with job_modules=("tests.job_kinds",)).

``test_stepped`` advances one step each time the test drops a gate file, so a test can
watch its progress move through the API step by step without timing anything;
``test_explodes`` fails the way a bug does, with an exception no job meant to raise.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, Field

from jobs import JobContext, JobError, job_kind

GATE_TIMEOUT_S = 60


class SteppedParams(BaseModel):
    steps: int = Field(ge=1, le=20)
    gate_dir: str


@job_kind("test_stepped", SteppedParams, title="Advances a step per gate file (tests)")
def stepped(job: JobContext, params: SteppedParams) -> dict:
    gates = Path(params.gate_dir)
    for step in range(1, params.steps + 1):
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while not (gates / f"step-{step}").exists():
            if time.monotonic() > deadline:
                raise JobError(f"gate step-{step} did not open within {GATE_TIMEOUT_S} s")
            job.checkpoint()  # notices a cancel while waiting
            time.sleep(0.02)
        job.progress(step, params.steps, f"step {step} of {params.steps}")
    return {"steps": params.steps, "tenant": job.tenant_key}


class NoParams(BaseModel):
    pass


@job_kind("test_explodes", NoParams, title="Fails with an unexpected exception (tests)")
def explodes(job: JobContext, params: NoParams) -> dict:
    raise RuntimeError("the disk is on fire\n  File 'secret.py', line 1, in <module>")


@job_kind("test_slow", SteppedParams, title="Waits past its 1 s time limit (tests)", time_limit_s=1)
def slow(job: JobContext, params: SteppedParams) -> dict:
    return stepped(job, params)
