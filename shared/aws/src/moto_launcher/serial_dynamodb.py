"""moto's server with DynamoDB requests handled one at a time.

DynamoDB applies a conditional write atomically: of two writers that read version 7 and
both write "if version is 7", one wins and the other gets ConditionalCheckFailed. moto
(5.x) checks the condition and applies the update in separate steps with no lock, on a
thread per request, so under concurrency both writers can pass the check (measured: 273
successful conditional increments left the counter at 270). Code that relies on the
guarantee, as Skein's step engine does, then loses updates on moto that it would never
lose on DynamoDB. Serializing DynamoDB requests gives moto DynamoDB's guarantee back;
other services (SQS long polls, Step Functions) still run concurrently.

Usage: python serial_dynamodb.py [moto_server arguments]
"""

import functools
import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_one_at_a_time = threading.RLock()
_call_action = DynamoHandler.call_action


@functools.wraps(_call_action)
def _serialized_call_action(self, *args, **kwargs):
    # The lock covers the response's serialization too: an item is read out before the
    # next request can change it, as ReturnValues=ALL_NEW promises.
    with _one_at_a_time:
        return _call_action(self, *args, **kwargs)


DynamoHandler.call_action = _serialized_call_action

if __name__ == "__main__":
    sys.exit(main())
