"""Lambda function for Talon.One's deleteCustomerData.

Triggers: API Gateway (DELETE /v1/customer_data/{integrationId}) and the off-peak schedule
that drains the erasure queue.

Everything but the choice of operation lives in the talon_relay layer, shared by all five functions.
"""

from talon_relay.operations import DELETE_CUSTOMER_DATA
from talon_relay.triggers import lambda_handler

handler = lambda_handler(DELETE_CUSTOMER_DATA, schedule=True)
