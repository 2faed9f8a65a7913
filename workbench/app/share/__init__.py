"""Sharing what a session found: the HTML report, the bug bundle (and the profiles its
repro uses), the trtexec / Python reproductions, versions, self-contained HTML pages.
"""
