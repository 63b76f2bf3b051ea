"""The features stage."""
