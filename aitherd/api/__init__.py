"""Control API: HTTP + JSON over the daemon's Unix socket, versioned under /v1/.

One module per resource, each a list of module-level handlers mounted under /v1: `status`
(health, status, reload, scheduler), `jobs`, `runs`, `exports`, `corpus` (examples, corpus,
decontam), and the model server's in `aitherd/serve/routes.py` (serve, adapters). Handlers reach
the daemon through `request.app.state.control`, typed by the `Control` protocol, and read the
store through `aitherd.store.queries` off the event loop. `server` and `middleware` hold the
limits that keep a flood of clients from wedging it; `fastpath` answers a plain GET of
/v1/health and a fresh /v1/status in the socket's protocol, without the ASGI stack.
"""

from aitherd.api.app import Api, build_app
from aitherd.api.control import Control, JobTiming, SchedulerState
from aitherd.api.server import Limits

__all__ = ["Api", "Control", "JobTiming", "Limits", "SchedulerState", "build_app"]
