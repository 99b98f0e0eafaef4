"""SLOs: objectives per app or model, error budgets and multi-window burn-rate alerts."""
