"""Contest results: the published formulas and the ranks and awards they give.

formulas.py and kinds/ (one module per contest kind) hold the arithmetic only (no Flask,
no database), so the numbers shown in 公示 can be recomputed and checked by anyone from
the vote counts and round scores.
"""
