"""The compiler's input graph (:class:`Network`) and, later, the lowering of networks to circuits."""

from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.compiler.network import Dense, Network

__all__ = ["ACTIVATIONS", "LOSSES", "Dense", "Network"]
