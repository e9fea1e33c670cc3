"""Webhooks from commerce platforms (Shopify), mapped to Integration API operations by data files.

- `shopify`: Shopify's signature (X-Shopify-Hmac-Sha256 over the raw body), headers and freshness.
- `envelope`: a verified webhook as the receiver queues it (storage-first) and its consumer reads it.
- `mapping_model`: the mapping files' format (pydantic; the JSON Schema for operators is made from it).
- `mappings`: the mapping files of a platform, loaded once per container, and a payload mapped by them
  (JMESPath, Powertools' jmespath_utils) into requests the strict checker (`core.request.parse_request`) accepts.
- `consumer`: one queued webhook, its mapped operations run in order, each exactly once.
- `session_order`: a session's webhook keeps its place in the session's order across a redrive.
- `metrics`: webhooks counted by topic; `errors`: StepFailed, a step of a mapped webhook that failed.

The receiver's HTTP adapter is `talon_relay.adapters.webhook`; its entry in the operation table has
`webhook` set to the platform's name.
"""
