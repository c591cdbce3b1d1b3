"""The applicant web app: server-rendered pages over the gateway's public HTTP API (docs/web.md)."""
