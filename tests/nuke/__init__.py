"""Tests of the Nuke plugin (``nuke_plugin/``), which run without Nuke.

``fake_nuke`` is a stand-in for the handful of ``nuke`` calls the plugin makes (it says what it does
and does not show); the worker behind the plugin is the real ``remaster worker``, started as a
subprocess by the plugin's own client.
"""
