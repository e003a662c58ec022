"""Drawing: the Agg canvas and renderer base, the house style (roles, themes), the layout check."""
