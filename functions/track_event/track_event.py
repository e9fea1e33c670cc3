"""Lambda function for Talon.One's trackEvent.

Triggers: API Gateway (POST /v1/events) and SQS.

Everything but the choice of operation lives in the talon_relay layer, shared by every function;
the operation's route, models and queue are its entry in talon_relay.operations.
"""

from talon_relay.entry import lambda_handler

handler = lambda_handler("trackEvent")
