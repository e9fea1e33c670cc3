"""Lambda function for Talon.One's createReferral.

Triggers: API Gateway (POST /v1/referrals) and SQS.

Everything but the choice of operation lives in the talon_relay layer, shared by all five functions.
"""

from talon_relay.operations import CREATE_REFERRAL
from talon_relay.triggers import lambda_handler

handler = lambda_handler(CREATE_REFERRAL)
