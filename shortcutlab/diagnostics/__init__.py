"""Diagnostics that read score tables, never a model.

tables (read/validate score tables, pairs), accuracy (Eq. 2 + bootstrap), sfd (Def. 3.1),
matrix (generalization matrix, Figure 1 / Table 5), length (Section 3.5.1, Figure 5),
bon (Appendix H Best-of-N), correlation (Figure 3). Figures live in `shortcutlab.plots`.
"""
