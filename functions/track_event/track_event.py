"""Lambda function for Talon.One's trackEvent.

Triggers: API Gateway (POST /v1/events) and SQS.

Everything but the choice of operation lives in the talon_relay layer, shared by all five functions.
"""

from talon_relay.operations import TRACK_EVENT
from talon_relay.triggers import lambda_handler

handler = lambda_handler(TRACK_EVENT)
