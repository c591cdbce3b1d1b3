"""Billings fall due in 10-second windows: the expiry sweeper reads the windows that have wholly
passed (adapters/expiry_queue.py stores them, servicekit/due_windows.py numbers them)."""

WINDOW_S = 10
