"""`make bench`: the portal's speed and memory, measured against Stalwart (the sandbox) itself."""

#: The empty signed-in page `bench/floor.py` adds to the portal.
FLOOR_PATH = "/bench/floor"
