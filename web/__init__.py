"""The HTTP edge: Flask routes beside Dash's (downloads, and in time every other route).

Routes parse the request, call one function of the rooms below and shape the answer; nothing
below imports this package.
"""
