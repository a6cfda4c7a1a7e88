"""Inputs: raw strings into a typed, validated configuration (pure; nothing is sent)."""
