"""`make bench`: the portal's speed and memory, measured against Stalwart (the sandbox) itself."""
