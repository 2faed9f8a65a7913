"""What a built engine is (pure Python): its card and saving (card.py), its layers and
their precisions (layer_report.py), two engines compared, the engine drawn as a graph.
"""
