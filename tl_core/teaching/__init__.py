"""The teaching extras behind the Compare and Inside pages and the class handwriting set."""
