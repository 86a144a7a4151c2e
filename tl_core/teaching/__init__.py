"""The teaching extras behind the Compare, Inside and Class pages and the lesson plan."""
