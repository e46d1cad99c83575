"""The managers' and agents' queues at /queues/: overview, list, insights, CSV export and assignment."""
