"""Notifications: budget thresholds, anomalies and other events delivered to webhooks (generic
JSON or Slack-compatible), signed, retried with backoff and recorded as audit events."""

from steward.notify.formats import Notification, render, sign, verify
from steward.notify.notifier import Delivery, Notifier, subscribed
from steward.notify.settings import NotificationSettings, WebhookConfig

__all__ = [
    "Delivery",
    "Notification",
    "NotificationSettings",
    "Notifier",
    "WebhookConfig",
    "render",
    "sign",
    "subscribed",
    "verify",
]
