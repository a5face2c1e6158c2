"""Lava's side of the target: the Processes (process.py) and their ProcessModels (models.py), alone in this folder.

Lava's compiler executes every module in a Process's folder while it looks for ProcessModels, so this folder holds
nothing else (each extra module would be compiled and run again for every process of every network).
"""
