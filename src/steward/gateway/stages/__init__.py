"""gateway/stages."""
