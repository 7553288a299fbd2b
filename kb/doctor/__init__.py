"""`kb doctor`: checking a store and its search index (check.py), and repairing them (repair.py).

Both run under the store's lock, so no kb process writes meanwhile. report.py holds the
findings; files.py the strict loads, salvage and leftover-file tools both use. It sits
above kb.api (it opens the store through KnowledgeBase) and below kb.cli; it never prints.
"""
