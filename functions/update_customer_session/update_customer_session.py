"""Lambda function for Talon.One's updateCustomerSession.

Triggers: API Gateway (PUT /v1/customer_sessions/{customerSessionId}) and SQS.

Everything but the choice of operation lives in the talon_relay layer, shared by all five functions.
"""

from talon_relay.operations import UPDATE_CUSTOMER_SESSION
from talon_relay.triggers import lambda_handler

handler = lambda_handler(UPDATE_CUSTOMER_SESSION)
