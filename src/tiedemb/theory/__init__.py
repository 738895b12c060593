"""Numerical checks of the papers' theorems, one module per paper.

- :mod:`tiedemb.theory.press_wolf`: the gradient identities of Press & Wolf (2017), Sec. 3 (Eqs. 1-4).
- :mod:`tiedemb.theory.bertolotti`: instances of Bertolotti & Cazzola's (2024) lemmas and theorems (B-L1..B-T5).
"""
