"""The host-side processes of the loihi2 target (process.py, models.py), alone in this folder.

The library-process machine runs on Lava's library processes only; what stays on the host is the port that reads
the gradient and writes the weights (Lava's learning engine cannot express the update: docs/lava.md). Lava's
compiler executes every module in a Process's folder while it looks for ProcessModels, so this folder holds nothing
else.
"""
