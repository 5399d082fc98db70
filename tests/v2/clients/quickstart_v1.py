"""The quickstart of honcho-ai 1.x (its package docstring), unchanged but for printing what it
got. The server comes from HONCHO_BASE_URL and the workspace from HONCHO_WORKSPACE_ID, which
is where honcho-ai 1.x reads them."""

import json

from honcho import Honcho

# Initialize client
client = Honcho(api_key="your-api-key")

# Create peers
alice = client.peer("alice")
bob = client.peer("bob")

# Create a session
session = client.session("conversation-1")

# Add peers to session
session.add_peers([alice, bob])

# Add messages
session.add_messages([alice.message("Hello, Bob!"), bob.message("Hi Alice, how are you?")])

# Wait for deriver to process all messages (only necessary if very recent messages are critical to query)  # noqa: E501
client.poll_deriver_status()

# Query conversation context
response = alice.chat("What did Bob say to me?")

status = client.get_deriver_status()
print(
    json.dumps(
        {
            "answer": response,
            "observations": [o.content for o in alice.observations.list()],
            "pending": status.pending_work_units,
            "in_progress": status.in_progress_work_units,
        }
    )
)
