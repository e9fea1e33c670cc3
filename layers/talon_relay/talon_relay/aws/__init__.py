"""Every AWS service the functions call: the DynamoDB store, idempotency, queues, secrets."""
