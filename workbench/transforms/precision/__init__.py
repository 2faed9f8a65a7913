"""The FP16/BF16 graph conversion: one walk per graph fetching every input in the type
its schema needs (walk.py), weights in reduced precision (values.py), the type check
(typing_rules.py), attributes and names (plumbing.py), its report; producers, use lists
and the one record of types (written back into value_info) are the graph layer's.
"""
