"""Observability, split by job: `metrics` (the Prometheus registry, each counter recorded
through one method), `decision_log` (one JSON line per decision, batched), `logs` (the logging
set-up) and `recorder` (`Observability`, what the endpoint and the wiring record through)."""
