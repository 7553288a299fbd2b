"""`kb doctor`: checking a store and its search index (check.py), and repairing them (repair.py).

Both run under the store's lock, so no kb process writes meanwhile. report.py holds the
findings; files.py the strict loads, salvage and leftover-file tools both use. It is the
files backend's doctor: kb.files.backend calls it, and it opens the store through
kb.files.paired, below it; it never prints.
"""
