"""Tests of remaster_core.grain: film grain profiles and their synthesis."""
