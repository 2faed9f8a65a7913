"""The Compare tab and its views: drift table with paging, keep-list search, mask fix,
INT8 quantization.
"""
