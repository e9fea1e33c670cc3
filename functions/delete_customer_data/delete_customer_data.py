"""Lambda function for Talon.One's deleteCustomerData.

Triggers: API Gateway (DELETE /v1/customer_data/{integrationId}) and the off-peak schedule
that drains the erasure queue.

Everything but the choice of operation lives in the talon_relay layer, shared by every function;
the operation's route, models and queue are its entry in talon_relay.operations.
"""

from talon_relay.entry import lambda_handler

handler = lambda_handler("deleteCustomerData")
