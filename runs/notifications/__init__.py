"""Run notifications: signed webhooks, Slack and email per environment.

- `models`: configurations, deliveries (one per event and configuration),
  attempts;
- `outbox`: the deliveries a run's transition owes, written in its
  transaction;
- `delivery`, `channels`, `payloads`, `sender`, `destinations`: claiming,
  sending, retrying and recovering them, and what may be contacted;
- `services`: the rules of configurations, for the API (`api/`) and the
  web pages (`views`).
"""
