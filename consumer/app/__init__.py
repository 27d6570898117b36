"""Composition roots: the processes the commands run, wired from the settings.

See README "Repository layout".
"""
