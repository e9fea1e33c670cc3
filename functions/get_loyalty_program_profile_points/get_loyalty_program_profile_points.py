"""Lambda function for Talon.One's getLoyaltyProgramProfilePoints.

Triggers: API Gateway (GET /v1/loyalty_programs/{loyaltyProgramId}/profile/{integrationId}/points) only:
a read is answered at once, it has no queue.

Everything but the choice of entry lives in the talon_relay layer, shared by every function; the entry
(route, models, queue) is in talon_relay.operations. Written by `make generate` from it: edit the table,
not this file.
"""

from talon_relay.entry import lambda_handler

handler = lambda_handler("getLoyaltyProgramProfilePoints")
