"""Tests of omnimsg.audiences."""
