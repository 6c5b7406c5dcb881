"""The Kičevo demo: believable data for every role."""
