"""Data in: behaviour events and catalog items, validated at the door, queued and landed."""
