"""The FP16/BF16 graph conversion: one walk per graph fetching every input in the type
its schema needs (walk.py), weights in reduced precision (values.py), the type check
(typing_rules.py), value_info kept in one place (plumbing.py), its report, node naming.
"""
