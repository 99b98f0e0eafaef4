"""Continuous evaluation: live sampling and capture, evaluators, evaluation records, the worker,
golden datasets and runs. Submodules are imported where needed: the gateway imports only the
capture stage, and only when sampling is configured."""
