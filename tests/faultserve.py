"""`rpm-scrubber` with one fault point, for the fault-injection tests: the gunicorn worker that has
just recorded a submission containing the bytes of SCRUBBER_FAULT_MARKER kills itself with
SIGKILL before it answers, once (SCRUBBER_FAULT_ONCE names a file that marks it done). Everything
else is the real command; gunicorn's master starts a new worker as it would after any crash.

    python -m tests.faultserve serve --port 0 --demo
"""
import os
import signal
import sys

from scrubber import workflow
from scrubber.cli import main

_submit = workflow.Workflow.submit


def _submit_then_die(self, tenant, data, *args, **kwargs):
    outcome = _submit(self, tenant, data, *args, **kwargs)  # recorded and queued, not yet answered
    marker, once = os.environ["SCRUBBER_FAULT_MARKER"].encode(), os.environ["SCRUBBER_FAULT_ONCE"]
    if marker in data:
        try:
            os.close(os.open(once, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return outcome
        os.kill(os.getpid(), signal.SIGKILL)
    return outcome


workflow.Workflow.submit = _submit_then_die

if __name__ == "__main__":
    sys.exit(main())
