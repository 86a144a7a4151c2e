"""Colours every chart uses, chosen so colour-blind students can tell them apart.

Vega-Lite's default colours (tableau10) collapse under deuteranopia: two of them fall within
ΔE 1.7 of each other, the same colour to such a student. tests/test_palette.py simulates the
three kinds of colour blindness on these palettes and fails below a clear difference.
"""

# Okabe and Ito's eight colours for colour-blind readers: the lines and bars of a few series.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")  # fmt: skip
# Paul Tol's "muted" nine and his pale grey: one colour per digit, 0 to 9, where ten series
# must differ (the feature space); its charts add a shape per digit as well.
DIGIT_COLOURS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
                 "#882255", "#AA4499", "#DDDDDD")  # fmt: skip
