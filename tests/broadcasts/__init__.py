"""Tests of omnimsg.broadcasts."""
