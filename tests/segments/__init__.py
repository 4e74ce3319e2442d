"""Tests of omnimsg.segments."""
