"""The subgraph stage."""
