"""Calendar providers behind one interface (base.py), OAuth connect, free/busy."""
